// Placeholder for serving www/demo/ from any static server: no collector, so the snippet tags
// links and sends nothing. `npm start` (scripts/start.mjs) serves its own /config.js in place
// of this file, pointing the snippet at the local collector.
window.chattagDemo = { collectorApi: null };
