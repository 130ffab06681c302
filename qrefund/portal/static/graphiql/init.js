// Starts GraphiQL on /graphql (served by qrefund, no CDN). A file of its own because
// the page's Content-Security-Policy allows no inline script.
(function () {
  "use strict";
  var url = window.location.origin + window.location.pathname;
  var socket = new URL(url);
  socket.protocol = socket.protocol === "https:" ? "wss:" : "ws:";
  var fetcher = GraphiQL.createFetcher({ url: url, subscriptionUrl: socket.toString() });
  var params = new URLSearchParams(window.location.search);
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(React.createElement(GraphiQL, {
    fetcher: fetcher,
    query: params.get("query") || undefined,
    defaultEditorToolsVisibility: true,
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: true,
    inputValueDeprecation: true
  }));
})();
