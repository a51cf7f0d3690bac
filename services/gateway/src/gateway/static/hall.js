/* The hall's projector screen: turnout straight from the live stream, and the changing part of
   the screen (which ballot is open, the declared result) reloaded from the server when a ballot
   opens or closes. Nothing here is secret: the stream and the panel are public. */
(function () {
  "use strict";

  var congressId = document.body.dataset.congress;
  var panel = document.getElementById("panel");
  var live = document.getElementById("live");
  var announcer = document.getElementById("announce");
  var turnout = {};  // ballot id -> the highest votes_cast seen; a reload may race the stream
  var focus = null;
  var expected = null;  // {ballot, status} the next panel must show, else it is read again
  var timer = null;
  var attempts = 0;

  function bodyId() {
    var current = panel.querySelector(".panel");
    return current ? current.dataset.body : "";
  }

  function byBallot(id, selector) {
    return panel.querySelector('[data-ballot="' + CSS.escape(id) + '"]' + (selector || ""));
  }

  function announce(text) {
    announcer.textContent = "";
    window.setTimeout(function () { announcer.textContent = text; }, 50);
  }

  function showTurnout(box, cast) {
    var electorate = Number(box.dataset.electorate) || 0;
    var quorum = Number(box.dataset.quorum) || 0;
    var share = electorate ? cast * 100 / electorate : 0;
    box.dataset.votesCast = String(cast);
    box.querySelector(".votes-cast").textContent = String(cast);
    box.querySelector(".percent-value").textContent = String(Math.floor(share));
    // Sizes through the CSSOM: the Content-Security-Policy allows no inline style attributes.
    box.querySelector(".fill").style.width = Math.min(100, share) + "%";
    box.querySelector(".quorum-line").style.left = Math.min(100, electorate ? quorum * 100 / electorate : 0) + "%";
    var line = box.querySelector(".quorum");
    var reached = cast >= quorum;
    line.classList.toggle("reached", reached);
    line.querySelector(".quorum-state").textContent = reached ? "reached" : (quorum - cast) + " more needed";
  }

  function paint(container) {
    Array.prototype.forEach.call(container.querySelectorAll(".turnout"), function (box) {
      var id = box.closest("[data-ballot]").dataset.ballot;
      var cast = Number(box.dataset.votesCast) || 0;
      if (turnout[id] !== undefined && turnout[id] > cast) { cast = turnout[id]; }
      showTurnout(box, cast);
    });
  }

  function satisfied() {
    return !expected || byBallot(expected.ballot, '[data-status="' + expected.status + '"]') !== null;
  }

  function reload(ballotId, status, delay) {
    if (ballotId) { focus = ballotId; }
    if (ballotId && status) { expected = { ballot: ballotId, status: status }; attempts = 0; }
    if (timer !== null) { return; }
    // Events of one close (ballot.closed, motion.decided) arrive together: one reload for them.
    timer = window.setTimeout(readPanel, delay === undefined ? 80 : delay);
  }

  function readPanel() {
    var url = "/hall/" + encodeURIComponent(congressId) + "/panel" + (focus ? "?focus=" + encodeURIComponent(focus) : "");
    fetch(url, { cache: "no-store", credentials: "omit" })
      .then(function (response) {
        if (!response.ok) { throw new Error("panel " + response.status); }
        return response.text();
      })
      .then(function (html) {
        timer = null;
        var next = document.createElement("div");
        next.innerHTML = html;  // the server's own template: no script runs from it (CSP)
        paint(next);
        panel.replaceChildren.apply(panel, Array.prototype.slice.call(next.childNodes));
        if (!satisfied() && attempts < 5) {
          attempts += 1;  // another gateway answered before it heard the event: ask again
          reload(null, null, 600);
          return;
        }
        if (expected) { tell(expected); }
        expected = null;
      })
      .catch(function () {
        timer = null;
        reload(null, null, 2000);
      });
  }

  function tell(what) {
    var shown = byBallot(what.ballot);
    if (!shown) { return; }
    var title = shown.querySelector("h2");
    var outcome = shown.querySelector(".outcome");
    if (what.status === "open") {
      announce("Voting is open: " + (title ? title.textContent : ""));
    } else if (title) {
      announce("Result: " + title.textContent + (outcome ? ", " + outcome.textContent : ""));
    }
  }

  function mine(data) {
    return data.body_id ? data.body_id === bodyId() : byBallot(data.ballot_id) !== null;
  }

  paint(panel);

  window.CongressStream.open(document.body.dataset.position, {
    "vote.recorded": function (data) {
      if (!(data.votes_cast > (turnout[data.ballot_id] || 0))) { return; }
      turnout[data.ballot_id] = data.votes_cast;
      var box = byBallot(data.ballot_id, " .turnout");
      if (box !== null && data.votes_cast > Number(box.dataset.votesCast)) { showTurnout(box, data.votes_cast); }
    },
    "ballot.opened": function (data) { if (mine(data)) { reload(data.ballot_id, "open"); } },
    "ballot.closed": function (data) { if (mine(data)) { reload(data.ballot_id, "closed"); } },
    "motion.decided": function (data) { if (mine(data)) { reload(data.ballot_id, "closed"); } },
    "election.result_declared": function (data) { if (mine(data)) { reload(data.ballot_id, "closed"); } },
    "congress.convened": function (data) { if (data.congress_id === congressId) { reload(); } },
    "congress.in_session": function (data) { if (data.congress_id === congressId) { reload(); } },
    "congress.closed": function (data) { if (data.congress_id === congressId) { reload(); } },
    connection: function (up) {
      live.textContent = up ? "Live" : "Reconnecting…";
      live.classList.toggle("down", !up);
    }
  });
}());
