// Node-RED settings for `npm start`: this machine only unless asked (`--listen`), and no first-run
// pop-ups over the demo (the editor tour, the update-check question).
module.exports = {
  flowFile: 'flows.json',
  uiHost: process.env.LFP_BMS_UI_HOST || '127.0.0.1',
  editorTheme: { tours: false },
  telemetry: { enabled: false },
  diagnostics: { enabled: false },
};
