/* global window, document, fetch */
// Started from an external file: the page's CSP forbids inline scripts.
fetch("/api/config")
  .then(function (response) { return response.json(); })
  .then(function (config) {
    var agent = window.SessionLens.startAgent({ url: config.collectorWsUrl, project: config.project });
    window.sessionlensAgent = agent;
    setInterval(function () {
      document.getElementById("session").textContent = agent.sessionId || "connecting…";
    }, 500);
  });
