// react-floating-whatsapp (npm, awran5/react-floating-whatsapp; see SOURCES.md): a chat box
// whose form submit calls window.open(`https://api.whatsapp.com/send/?phone=${phoneNumber}&text=${value}`)
// — note `send/` with a slash and the visitor's text put in unencoded. The component's DOM and
// submit handler, without React.
export default {
  name: 'react-floating-whatsapp',
  body: `
<div class="floating-whatsapp">
  <div class="floating-whatsapp-button" id="rfw-open" style="cursor:pointer">WhatsApp</div>
  <div class="floating-whatsapp-chatbox">
    <form id="rfw-form"><input id="rfw-input" placeholder="Type a message.." dir="auto"><button id="rfw-send" type="submit">Send</button></form>
  </div>
</div>
<script>
  (function () {
    var phoneNumber = '79991234567';
    var input = document.getElementById('rfw-input');
    document.getElementById('rfw-form').addEventListener('submit', function (event) {
      event.preventDefault();
      if (!input.value) return;
      window.open('https://api.whatsapp.com/send/?phone=' + phoneNumber + '&text=' + input.value);
      input.value = '';
    });
  })();
</script>`,
  opens: [{ fill: ['#rfw-input', 'Do you deliver on Sunday?'], click: '#rfw-send', host: 'api.whatsapp.com', param: 'text', keeps: 'Do you deliver on Sunday?' }],
};
