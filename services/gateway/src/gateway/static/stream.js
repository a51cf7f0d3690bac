/* The public live stream for the congress's pages: EventSource with its ids (log positions)
   kept, so that after any break the server sends exactly what was missed. */
(function () {
  "use strict";

  var TYPES = [
    "congress.scheduled", "congress.convened", "congress.in_session", "congress.closed",
    "motion.tabled", "ballot.opened", "vote.recorded", "ballot.closed",
    "motion.decided", "election.result_declared"
  ];

  /* open(after, handlers): handlers[type](data, event) per event type, plus optional
     handlers.ready() once caught up and handlers.connection(up) when the link changes. */
  function open(after, handlers) {
    var last = after === undefined || after === null || after === "" ? null : String(after);
    var source = null;
    var retry = null;

    function connect() {
      retry = null;
      var url = "/api/v1/stream" + (last !== null ? "?after=" + encodeURIComponent(last) : "");
      source = new EventSource(url);
      TYPES.forEach(function (type) {
        source.addEventListener(type, function (message) {
          if (message.lastEventId) { last = message.lastEventId; }
          var event;
          try { event = JSON.parse(message.data); } catch (error) { return; }
          if (handlers[type]) { handlers[type](event.data || {}, event); }
        });
      });
      source.addEventListener("ready", function (message) {
        if (message.lastEventId) { last = message.lastEventId; }
        if (handlers.connection) { handlers.connection(true); }
        if (handlers.ready) { handlers.ready(); }
      });
      source.onerror = function () {
        if (handlers.connection) { handlers.connection(false); }
        // The browser retries by itself (sending Last-Event-ID) unless the server refused the
        // stream (a 503 while starting): then try again ourselves, from the last position seen.
        if (source.readyState === EventSource.CLOSED && retry === null) {
          source.close();
          retry = window.setTimeout(connect, 2000 + Math.floor(Math.random() * 2000));
        }
      };
    }

    connect();
    return {
      position: function () { return last; },
      close: function () { if (source) { source.close(); } if (retry) { window.clearTimeout(retry); } }
    };
  }

  window.CongressStream = { open: open };
}());
