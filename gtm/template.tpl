___TERMS_OF_SERVICE___

By creating or modifying this file you agree to Google Tag Manager's Community
Template Gallery Developer Terms of Service available at
https://developers.google.com/tag-manager/gallery-tos (or such other URL as
Google may provide), as modified from time to time.


___INFO___

{
  "type": "TAG",
  "id": "cvt_temp_public_id",
  "version": 1,
  "securityGroups": [],
  "displayName": "chattag - messenger chat tracking for Yandex Metrica",
  "categories": [
    "ANALYTICS",
    "ATTRIBUTION",
    "CHAT"
  ],
  "brand": {
    "id": "brand_dummy",
    "displayName": "chattag"
  },
  "description": "Tags every WhatsApp, Telegram, Viber and MAX link with a chat ID tied to the visitor's Metrica ClientID and yclid, and reports the mapping to your chattag collector. Respects GTM consent (analytics_storage).",
  "containerContexts": [
    "WEB"
  ]
}


___TEMPLATE_PARAMETERS___

[
  {
    "type": "TEXT",
    "name": "scriptUrl",
    "displayName": "Script URL (chattag.js)",
    "simpleValueType": true,
    "alwaysInSummary": true,
    "valueHint": "https://cdn.example.com/chattag/chattag.js",
    "help": "Where you host the built <code>chattag.js</code> (HTTPS). The template may only load URLs that end in <code>/chattag.js</code>; to narrow it to your host, edit the \"Injects scripts\" permission.",
    "valueValidators": [
      {
        "type": "NON_EMPTY"
      },
      {
        "type": "REGEX",
        "args": [
          "^https://[^\\s]+/chattag\\.js$"
        ]
      }
    ]
  },
  {
    "type": "TEXT",
    "name": "endpoint",
    "displayName": "Collector endpoint",
    "simpleValueType": true,
    "alwaysInSummary": true,
    "valueHint": "https://collector.example.com/v1/events",
    "help": "The URL events are sent to. Empty: links are tagged but nothing is sent.",
    "valueValidators": [
      {
        "type": "REGEX",
        "args": [
          "^(https?://[^\\s]+)?$"
        ]
      }
    ]
  },
  {
    "type": "SELECT",
    "name": "consentMode",
    "displayName": "Consent",
    "simpleValueType": true,
    "macrosInSelect": false,
    "defaultValue": "none",
    "selectItems": [
      {
        "value": "none",
        "displayValue": "Run at once (no consent needed)"
      },
      {
        "value": "gtm",
        "displayValue": "Follow GTM consent: analytics_storage"
      },
      {
        "value": "site",
        "displayValue": "Wait for chattag.consent(true) from the site"
      }
    ],
    "help": "<b>Follow GTM consent</b>: the script is not even loaded before <code>analytics_storage</code> is granted; a later denial stops chattag and clears what it stored."
  },
  {
    "type": "GROUP",
    "name": "tagging",
    "displayName": "Chat ID and message",
    "groupStyle": "ZIPPY_CLOSED",
    "subParams": [
      {
        "type": "TEXT",
        "name": "prefix",
        "displayName": "Chat ID prefix",
        "simpleValueType": true,
        "valueHint": "CT",
        "help": "1 to 4 capital letters A-Z. Default CT (IDs like CT8F2A9KQ3).",
        "valueValidators": [
          {
            "type": "REGEX",
            "args": [
              "^([A-Z]{1,4})?$"
            ]
          }
        ]
      },
      {
        "type": "TEXT",
        "name": "template",
        "displayName": "Message template",
        "simpleValueType": true,
        "lineCount": 2,
        "valueHint": "{text}\nRequest number: {id}",
        "help": "The visible tag added to personal-chat links. Placeholders: {id} (required), {text}, {url}, {title}. Empty: a built-in text in the page language."
      },
      {
        "type": "TEXT",
        "name": "lifetimeDays",
        "displayName": "ID lifetime (days)",
        "simpleValueType": true,
        "valueHint": "21",
        "help": "Days a chat ID lives without a new ad click. Default 21 (the Metrica attribution window).",
        "valueValidators": [
          {
            "type": "REGEX",
            "args": [
              "^([1-9][0-9]{0,2})?$"
            ]
          }
        ]
      },
      {
        "type": "TEXT",
        "name": "counter",
        "displayName": "Yandex Metrica counter number",
        "simpleValueType": true,
        "valueHint": "12345678",
        "help": "Lets chattag ask the Metrica tag for the ClientID as soon as it knows it.",
        "valueValidators": [
          {
            "type": "REGEX",
            "args": [
              "^([0-9]{1,12})?$"
            ]
          }
        ]
      }
    ]
  },
  {
    "type": "GROUP",
    "name": "extras",
    "displayName": "Extras",
    "groupStyle": "ZIPPY_CLOSED",
    "subParams": [
      {
        "type": "CHECKBOX",
        "name": "qr",
        "checkboxText": "Desktop: offer a QR code of the tagged link",
        "simpleValueType": true,
        "defaultValue": false
      },
      {
        "type": "CHECKBOX",
        "name": "debug",
        "checkboxText": "Debug: console diagnostics and the link overlay",
        "simpleValueType": true,
        "defaultValue": false
      }
    ]
  }
]


___SANDBOXED_JS_FOR_WEB_TEMPLATE___

// chattag for Google Tag Manager. The snippet reads its settings from window.chattagConfig
// (GTM cannot set data-* attributes on the script it injects), so this tag writes that object
// and then injects the one classic script, chattag.js.
const addConsentListener = require('addConsentListener');
const callInWindow = require('callInWindow');
const copyFromWindow = require('copyFromWindow');
const createArgumentsQueue = require('createArgumentsQueue');
const injectScript = require('injectScript');
const isConsentGranted = require('isConsentGranted');
const logToConsole = require('logToConsole');
const makeString = require('makeString');
const Object = require('Object');
const queryPermission = require('queryPermission');
const setInWindow = require('setInWindow');

const CONSENT_TYPE = 'analytics_storage';
const scriptUrl = makeString(data.scriptUrl || '');

// Settings the page set itself stay unless this tag sets the same key: the tag is the newer,
// explicit choice. Empty fields are left out so the snippet's own defaults apply.
const config = {};
const existing = copyFromWindow('chattagConfig');
if (existing && typeof existing === 'object') {
  Object.keys(existing).forEach((key) => {
    config[key] = existing[key];
  });
}
const put = (key, value) => {
  const text = value === undefined || value === null ? '' : makeString(value);
  if (text !== '') config[key] = text;
};
put('endpoint', data.endpoint);
put('prefix', data.prefix);
put('template', data.template);
put('lifetimeDays', data.lifetimeDays);
put('counter', data.counter);
if (data.debug) config.debug = true;
if (data.qr) config.qr = true;
// 'gtm' and 'site' both start the snippet in "read, tag and store nothing" mode; the grant
// arrives through chattag('consent', true) from GTM's consent state or from the site's own code.
if (data.consentMode === 'gtm' || data.consentMode === 'site') config.consent = 'required';
setInWindow('chattagConfig', config, true);

// The same stub a site pastes, so calls made before the script has loaded are queued and
// replayed by it. Created only when absent: never replace a running snippet.
if (!copyFromWindow('chattag')) createArgumentsQueue('chattag', 'chattag.q');

const inject = (onSuccess, onFailure) => {
  if (!queryPermission('inject_script', scriptUrl)) {
    logToConsole('chattag: the template may not load ' + scriptUrl +
      ' - add its URL to the "Injects scripts" permission of the template');
    onFailure();
    return;
  }
  // The cache token makes a second firing of this tag reuse the first injection.
  injectScript(scriptUrl, onSuccess, onFailure, 'chattag');
};

if (data.consentMode !== 'gtm') {
  inject(data.gtmOnSuccess, data.gtmOnFailure);
} else {
  // Nothing is requested from the script's host before analytics_storage is granted: loading
  // the script alone would already tell that host the visitor's IP address.
  let injected = false;
  const grant = () => {
    callInWindow('chattag', 'consent', true);
    if (injected) return;
    injected = true;
    inject(() => {}, () => {});
  };
  addConsentListener(CONSENT_TYPE, (consentType, granted) => {
    if (granted) grant();
    // A withdrawal reaches the running snippet, which stops and clears what it stored.
    else callInWindow('chattag', 'consent', false);
  });
  if (isConsentGranted(CONSENT_TYPE)) {
    callInWindow('chattag', 'consent', true);
    injected = true;
    inject(data.gtmOnSuccess, data.gtmOnFailure);
  } else {
    // The tag's own work (config, listener) is done; the script follows the visitor's choice.
    data.gtmOnSuccess();
  }
}


___WEB_PERMISSIONS___

[
  {
    "instance": {
      "key": {
        "publicId": "access_globals",
        "versionId": "1"
      },
      "param": [
        {
          "key": "keys",
          "value": {
            "type": 2,
            "listItem": [
              {
                "type": 3,
                "mapKey": [
                  {
                    "type": 1,
                    "string": "key"
                  },
                  {
                    "type": 1,
                    "string": "read"
                  },
                  {
                    "type": 1,
                    "string": "write"
                  },
                  {
                    "type": 1,
                    "string": "execute"
                  }
                ],
                "mapValue": [
                  {
                    "type": 1,
                    "string": "chattagConfig"
                  },
                  {
                    "type": 8,
                    "boolean": true
                  },
                  {
                    "type": 8,
                    "boolean": true
                  },
                  {
                    "type": 8,
                    "boolean": false
                  }
                ]
              },
              {
                "type": 3,
                "mapKey": [
                  {
                    "type": 1,
                    "string": "key"
                  },
                  {
                    "type": 1,
                    "string": "read"
                  },
                  {
                    "type": 1,
                    "string": "write"
                  },
                  {
                    "type": 1,
                    "string": "execute"
                  }
                ],
                "mapValue": [
                  {
                    "type": 1,
                    "string": "chattag"
                  },
                  {
                    "type": 8,
                    "boolean": true
                  },
                  {
                    "type": 8,
                    "boolean": true
                  },
                  {
                    "type": 8,
                    "boolean": true
                  }
                ]
              },
              {
                "type": 3,
                "mapKey": [
                  {
                    "type": 1,
                    "string": "key"
                  },
                  {
                    "type": 1,
                    "string": "read"
                  },
                  {
                    "type": 1,
                    "string": "write"
                  },
                  {
                    "type": 1,
                    "string": "execute"
                  }
                ],
                "mapValue": [
                  {
                    "type": 1,
                    "string": "chattag.q"
                  },
                  {
                    "type": 8,
                    "boolean": true
                  },
                  {
                    "type": 8,
                    "boolean": true
                  },
                  {
                    "type": 8,
                    "boolean": false
                  }
                ]
              }
            ]
          }
        }
      ]
    },
    "clientAnnotations": {
      "isEditedByUser": true
    },
    "isRequired": true
  },
  {
    "instance": {
      "key": {
        "publicId": "inject_script",
        "versionId": "1"
      },
      "param": [
        {
          "key": "urls",
          "value": {
            "type": 2,
            "listItem": [
              {
                "type": 1,
                "string": "https://*/chattag.js"
              },
              {
                "type": 1,
                "string": "https://*/*/chattag.js"
              }
            ]
          }
        }
      ]
    },
    "clientAnnotations": {
      "isEditedByUser": true
    },
    "isRequired": true
  },
  {
    "instance": {
      "key": {
        "publicId": "access_consent",
        "versionId": "1"
      },
      "param": [
        {
          "key": "consentTypes",
          "value": {
            "type": 2,
            "listItem": [
              {
                "type": 3,
                "mapKey": [
                  {
                    "type": 1,
                    "string": "consentType"
                  },
                  {
                    "type": 1,
                    "string": "read"
                  },
                  {
                    "type": 1,
                    "string": "write"
                  }
                ],
                "mapValue": [
                  {
                    "type": 1,
                    "string": "analytics_storage"
                  },
                  {
                    "type": 8,
                    "boolean": true
                  },
                  {
                    "type": 8,
                    "boolean": false
                  }
                ]
              }
            ]
          }
        }
      ]
    },
    "clientAnnotations": {
      "isEditedByUser": true
    },
    "isRequired": true
  },
  {
    "instance": {
      "key": {
        "publicId": "logging",
        "versionId": "1"
      },
      "param": [
        {
          "key": "environments",
          "value": {
            "type": 1,
            "string": "debug"
          }
        }
      ]
    },
    "clientAnnotations": {
      "isEditedByUser": true
    },
    "isRequired": true
  }
]


___TESTS___

scenarios:
- name: Writes chattagConfig from the fields and injects the script
  code: |-
    let config;
    let injected;
    mock('setInWindow', (key, value, overwrite) => {
      if (key === 'chattagConfig') config = value;
      return true;
    });
    mock('injectScript', (url, onSuccess, onFailure, cacheToken) => {
      injected = url;
      onSuccess();
    });
    runCode(mockData);
    assertThat(config).isEqualTo({
      endpoint: 'https://collector.example/v1/events',
      prefix: 'FL',
      counter: '98765432',
      debug: true
    });
    assertThat(injected).isEqualTo('https://cdn.example.com/chattag.js');
    assertApi('isConsentGranted').wasNotCalled();
    assertApi('gtmOnSuccess').wasCalled();
    assertApi('gtmOnFailure').wasNotCalled();
- name: Keeps the page's own settings unless the tag sets the same key
  code: |-
    let config;
    mock('copyFromWindow', (key) => key === 'chattagConfig' ? { template: 'Order {id}', prefix: 'XX' } : undefined);
    mock('setInWindow', (key, value) => {
      if (key === 'chattagConfig') config = value;
      return true;
    });
    mock('injectScript', (url, onSuccess) => onSuccess());
    runCode(mockData);
    assertThat(config.template).isEqualTo('Order {id}');
    assertThat(config.prefix).isEqualTo('FL');
- name: Installs the call queue stub only when chattag is absent
  code: |-
    mock('injectScript', (url, onSuccess) => onSuccess());
    runCode(mockData);
    assertApi('createArgumentsQueue').wasCalledWith('chattag', 'chattag.q');
- name: Leaves a running chattag alone
  code: |-
    mock('copyFromWindow', (key) => key === 'chattag' ? (() => 'running') : undefined);
    mock('injectScript', (url, onSuccess) => onSuccess());
    runCode(mockData);
    assertApi('createArgumentsQueue').wasNotCalled();
- name: Consent mode GTM, denied - nothing loads until analytics_storage is granted
  code: |-
    let config;
    let listener;
    const injected = [];
    mockData.consentMode = 'gtm';
    mock('isConsentGranted', (type) => false);
    mock('addConsentListener', (type, fn) => {
      assertThat(type).isEqualTo('analytics_storage');
      listener = fn;
    });
    mock('setInWindow', (key, value) => {
      if (key === 'chattagConfig') config = value;
      return true;
    });
    mock('injectScript', (url, onSuccess) => {
      injected.push(url);
      onSuccess();
    });
    runCode(mockData);
    assertThat(config.consent).isEqualTo('required');
    assertThat(injected.length).isEqualTo(0);
    assertApi('callInWindow').wasNotCalled();
    assertApi('gtmOnSuccess').wasCalled();
    listener('analytics_storage', true);
    assertThat(injected).isEqualTo(['https://cdn.example.com/chattag.js']);
    assertApi('callInWindow').wasCalledWith('chattag', 'consent', true);
    listener('analytics_storage', false);
    assertApi('callInWindow').wasCalledWith('chattag', 'consent', false);
    listener('analytics_storage', true);
    assertThat(injected.length).isEqualTo(1);
- name: Consent mode GTM, already granted - loads at once
  code: |-
    let injected;
    mockData.consentMode = 'gtm';
    mock('isConsentGranted', (type) => type === 'analytics_storage');
    mock('injectScript', (url, onSuccess) => {
      injected = url;
      onSuccess();
    });
    runCode(mockData);
    assertThat(injected).isEqualTo('https://cdn.example.com/chattag.js');
    assertApi('callInWindow').wasCalledWith('chattag', 'consent', true);
    assertApi('gtmOnSuccess').wasCalled();
- name: Consent mode site - loads at once and waits for chattag.consent(true)
  code: |-
    let config;
    mockData.consentMode = 'site';
    mock('setInWindow', (key, value) => {
      if (key === 'chattagConfig') config = value;
      return true;
    });
    mock('injectScript', (url, onSuccess) => onSuccess());
    runCode(mockData);
    assertThat(config.consent).isEqualTo('required');
    assertApi('addConsentListener').wasNotCalled();
    assertApi('gtmOnSuccess').wasCalled();
- name: A failed script load fails the tag
  code: |-
    mock('injectScript', (url, onSuccess, onFailure) => onFailure());
    runCode(mockData);
    assertApi('gtmOnFailure').wasCalled();
    assertApi('gtmOnSuccess').wasNotCalled();
- name: A script URL outside the permission is refused, not injected
  code: |-
    mockData.scriptUrl = 'https://elsewhere.example/other.js';
    runCode(mockData);
    assertApi('injectScript').wasNotCalled();
    assertApi('gtmOnFailure').wasCalled();
setup: |-
  const mockData = {
    endpoint: 'https://collector.example/v1/events',
    scriptUrl: 'https://cdn.example.com/chattag.js',
    prefix: 'FL',
    template: '',
    lifetimeDays: '',
    counter: '98765432',
    consentMode: 'none',
    debug: true,
    qr: false
  };


___NOTES___

Source, build and docs: docs/gtm.md in the chattag repository. The template writes
window.chattagConfig (the snippet's settings object) and injects chattag.js.
