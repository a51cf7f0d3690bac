/* The delegate's voting page.

   The credential comes typed into the "Credential" field or from the email's link
   (/vote#credential=…): a URL fragment never reaches the server, and the page removes it from
   the address bar at once. It is kept in sessionStorage (this tab only) and sent only as the
   Authorization header of the page's own API calls: never in a URL, never in a cookie.

   Each ballot keeps, in sessionStorage, the request id of this delegate's vote: a retry (a lost
   answer, a reload) sends the same id and gets the same receipt back, never a second ballot. */
(function () {
  "use strict";

  var CREDENTIAL = "congress.credential";
  var BALLOT = "congress.ballot.";
  var state = {
    credential: null, member: null, bodies: {}, ballots: {}, loaded: false, refresh: null, expected: null, stream: null,
    session: 0  // a new one at each sign-in and sign-out: an answer to an older one is stale
  };

  function $(id) { return document.getElementById(id); }

  /* el("p", {class: "x", text: "…"}, child, …): DOM built with textContent, never HTML strings. */
  function el(tag, props) {
    var node = document.createElement(tag);
    Object.keys(props || {}).forEach(function (key) {
      var value = props[key];
      if (value === undefined || value === null || value === false) { return; }
      if (key === "text") { node.textContent = value; }
      else if (key === "class") { node.className = value; }
      else if (key === "on") { Object.keys(value).forEach(function (type) { node.addEventListener(type, value[type]); }); }
      else if (value === true) { node.setAttribute(key, ""); }
      else { node.setAttribute(key, value); }
    });
    for (var i = 2; i < arguments.length; i += 1) {
      var child = arguments[i];
      if (child === null || child === undefined || child === false) { continue; }
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function say(text) {
    var status = $("status");
    status.textContent = "";
    window.setTimeout(function () { status.textContent = text; }, 30);
  }

  function warn(text) {
    var alert = $("alert");
    alert.textContent = "";
    if (text) { window.setTimeout(function () { alert.textContent = text; }, 30); }
  }

  function kept(ballotId) {
    try { return JSON.parse(sessionStorage.getItem(BALLOT + ballotId) || "null") || {}; }
    catch (error) { return {}; }
  }

  function keep(ballotId, record) { sessionStorage.setItem(BALLOT + ballotId, JSON.stringify(record)); }

  function newRequestId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);  // available on plain http too, unlike randomUUID
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function api(method, path, body, anonymous) {
    var headers = { "Accept": "application/json" };
    if (!anonymous && state.credential) { headers.Authorization = "Bearer " + state.credential; }
    var init = { method: method, headers: headers, cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (payload) {
        return {
          ok: response.ok,
          status: response.status,
          data: payload,
          error: (payload && payload.error) || {},
          retryAfter: response.headers.get("Retry-After")
        };
      });
    }, function () {
      return { ok: false, status: 0, data: null, error: {} };
    });
  }

  /* ---------- signing in and out ---------- */

  function takeCredentialFromLink() {
    var fragment = window.location.hash.replace(/^#/, "");
    if (!fragment) { return; }
    var credential = new URLSearchParams(fragment).get("credential");
    // Out of the address bar, the history and any bookmark at once.
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
    if (credential) { sessionStorage.setItem(CREDENTIAL, credential.trim()); }
  }

  function signIn(event) {
    event.preventDefault();
    var field = $("credential");
    var credential = field.value.trim();
    if (!credential) {
      field.setAttribute("aria-invalid", "true");
      warn("Enter your credential: it is in your accreditation email.");
      field.focus();
      return;
    }
    field.removeAttribute("aria-invalid");
    state.session += 1;
    state.credential = credential;
    signInButton().disabled = true;  // one attempt at a time
    say("Signing in…");
    load(true);
  }

  function signInButton() { return $("sign-in-form").querySelector("button"); }

  function refused(answer) {
    /* A refusal of the credential itself: say why, and sign out. */
    var message = answer.error.message || "";
    if (answer.status === 401) {
      return "This credential is not valid: it is unknown, or it was replaced by a new one. Check it and try again.";
    }
    if (answer.status === 403 && /revoked/i.test(message)) {
      return "Your credential has been revoked; ask the Secretariat for a new one.";
    }
    if (answer.status === 429) {
      return "Too many failed sign-ins from this device: wait " + (answer.retryAfter || "a few") + " seconds and try again.";
    }
    return null;
  }

  function signOut(message) {
    state.session += 1;  // answers still on their way were for the delegate signed in until now
    Object.keys(sessionStorage).forEach(function (key) {
      if (key.indexOf("congress.") === 0) { sessionStorage.removeItem(key); }
    });
    state.credential = null;
    state.member = null;
    state.bodies = {};
    state.ballots = {};
    state.loaded = false;
    $("open-ballots").replaceChildren();
    $("closed-ballots").replaceChildren();
    $("ballots").hidden = true;
    $("closed").hidden = true;
    $("who").hidden = true;
    $("sign-out").hidden = true;
    $("sign-in").hidden = false;
    $("credential").value = "";
    signInButton().disabled = false;
    if (typeof message === "string" && message) { warn(message); say(""); } else { warn(""); say("You are signed out."); }
    $("credential").focus();
  }

  function load(signingIn) {
    var session = state.session;
    return api("GET", "/api/v1/me/ballots").then(function (answer) {
      if (session !== state.session) { return; }  // signed out meanwhile: it must not sign them back in
      if (answer.ok) {
        sessionStorage.setItem(CREDENTIAL, state.credential);
        show(answer.data, signingIn);
        return;
      }
      var why = refused(answer);
      if (why) { signOut(why); return; }
      if (answer.status === 0 || answer.status >= 500) {
        signInButton().disabled = false;
        warn("The voting service cannot be reached just now. Your credential is kept; this page tries again by itself.");
        window.setTimeout(function () { if (state.credential) { load(signingIn); } }, 5000);
        return;
      }
      if (answer.status === 403) { signOut("This page is for delegates: sign in with the credential from your accreditation email."); return; }
      if (signingIn) { signOut(answer.error.message || "This credential cannot sign in here."); }
      else { warn(answer.error.message || "The ballots could not be read."); }
    });
  }

  function show(data, signingIn) {
    var first = !state.loaded;
    state.loaded = true;
    signInButton().disabled = false;
    state.member = data.member;
    state.bodies = {};
    data.bodies.forEach(function (body) { state.bodies[body.id] = body; });
    $("sign-in").hidden = true;
    $("ballots").hidden = false;
    $("sign-out").hidden = false;
    var who = $("who");
    who.hidden = false;
    who.textContent = data.member ? "Signed in as " + data.member.name : "Signed in";
    render(data.ballots, first);
    if (!state.stream) { watch(); }  // after the first list: `ready` then re-reads what came between
    if (first) {
      var open = data.ballots.filter(function (b) { return b.status === "open"; }).length;
      warn("");
      say((data.member ? "Signed in as " + data.member.name + ". " : "") +
          (open === 1 ? "1 ballot is open." : open + " ballots are open."));
      if (signingIn) { $("main").focus(); }
    }
    checkExpected();
  }

  /* ---------- the list of ballots ---------- */

  function render(list, first) {
    var seen = {};
    list.forEach(function (ballot) {
      seen[ballot.id] = true;
      var before = state.ballots[ballot.id];
      state.ballots[ballot.id] = ballot;
      var card = $("ballot-" + ballot.id);
      if (card && before && before.status === ballot.status) { return; }  // keep what the delegate is doing
      var fresh = ballot.status === "open" ? openCard(ballot) : closedCard(ballot);
      if (card) { card.remove(); }
      (ballot.status === "open" ? $("open-ballots") : $("closed-ballots")).prepend(fresh);
      if (!first && before && before.status === "open" && ballot.status !== "open") {
        say("Voting has closed on “" + ballot.subject.title + "”.");
      } else if (!first && !before && ballot.status === "open") {
        say("A ballot has opened: “" + ballot.subject.title + "”.");
      }
    });
    Object.keys(state.ballots).forEach(function (id) {
      if (!seen[id]) {
        delete state.ballots[id];
        var gone = $("ballot-" + id);
        if (gone) { gone.remove(); }
      }
    });
    $("no-open").hidden = $("open-ballots").children.length > 0;
    $("closed").hidden = $("closed-ballots").children.length === 0;
  }

  function heading(ballot) {
    return (ballot.kind === "motion" ? "Motion: " : "Election: ") + ballot.subject.title;
  }

  function secrecyText(ballot) {
    return ballot.secrecy === "named"
      ? "Named ballot: how each delegate votes is published"
      : "Secret ballot";
  }

  function card(ballot) {
    return el("article", { class: "ballot", id: "ballot-" + ballot.id, "aria-labelledby": "title-" + ballot.id },
      el("h3", { id: "title-" + ballot.id, text: heading(ballot) }));
  }

  function openCard(ballot) {
    var article = card(ballot);
    var about = ballot.subject;
    article.appendChild(el("p", { class: "meta", text: ballot.body_name + " · " + secrecyText(ballot) }));
    if (ballot.kind === "motion") {
      article.appendChild(el("p", { class: "meta", text: "Moved by " + about.mover + " · To pass: " + majority(about.majority_rule) }));
      if (about.text) {
        article.appendChild(el("details", {}, el("summary", { text: "Text of the motion" }),
          el("p", { class: "motion-text", text: about.text })));
      }
    } else {
      article.appendChild(el("p", { class: "meta", text: method(about.method) + " · " + about.seats + (about.seats === 1 ? " seat" : " seats") }));
    }
    var work = el("div", { class: "work", id: "work-" + ballot.id });
    article.appendChild(work);
    var record = kept(ballot.id);
    if (!ballot.may_vote) {
      work.appendChild(el("p", { text: "You are a consultative member of this body: you do not vote in its ballots." }));
    } else if (record.receipt) {
      work.appendChild(receiptView(ballot, record, false));
    } else {
      work.appendChild(chooser(ballot));
    }
    return article;
  }

  function majority(rule) {
    return { simple: "more yes than no", two_thirds: "yes at least two thirds of yes and no",
      absolute: "yes more than half of the electorate" }[rule] || rule;
  }

  function method(name) {
    return { meek: "Ranked ballot (STV, Meek)", wigm: "Ranked ballot (STV, WIGM)", block: "Block vote" }[name] || name;
  }

  function replaceWork(ballot, view, focusTarget) {
    var work = $("work-" + ballot.id);
    work.replaceChildren(view);
    if (focusTarget) { focusTarget.focus(); }
  }

  /* ---------- choosing ---------- */

  function chooser(ballot) {
    if (ballot.kind === "motion") { return motionChooser(ballot); }
    return ballot.subject.method === "block" ? blockChooser(ballot) : rankingChooser(ballot);
  }

  function motionChooser(ballot) {
    var group = el("div", { class: "choices", role: "group", "aria-label": "Your vote on " + ballot.subject.title });
    [["yes", "Yes"], ["no", "No"], ["abstain", "Abstain"]].forEach(function (pair) {
      group.appendChild(el("button", { type: "button", text: pair[1], on: { click: function () {
        confirmStep(ballot, { choice: pair[0] }, [pair[1]], false);
      } } }));
    });
    return group;
  }

  function rankingChooser(ballot) {
    var candidates = ballot.subject.candidates;
    var helpId = "rank-help-" + ballot.id;
    var box = el("div", {},
      el("p", { id: helpId, class: "help",
        text: "Give your first preference, then as many more as you wish, in order. Each candidate once." }));
    var ranking = el("div", { class: "ranking" });
    candidates.forEach(function (unused, index) {
      var id = "pref-" + ballot.id + "-" + (index + 1);
      var select = el("select", { id: id, "aria-describedby": helpId },
        el("option", { value: "", text: "No preference" }));
      candidates.forEach(function (candidate) {
        select.appendChild(el("option", { value: candidate.id, text: candidate.name }));
      });
      ranking.appendChild(el("div", {}, el("label", { for: id, text: "Preference " + (index + 1) }), select));
    });
    box.appendChild(ranking);
    box.appendChild(el("div", { class: "actions" }, el("button", { type: "button", text: "Review my ranking", on: { click: function () {
      var selects = Array.prototype.slice.call(ranking.querySelectorAll("select"));
      var values = selects.map(function (select) { select.removeAttribute("aria-invalid"); return select.value; });
      var chosen = values.filter(Boolean);
      var gap = values.indexOf("");
      var last = values.length - 1 - values.slice().reverse().findIndex(Boolean);
      var twice = values.findIndex(function (value, index) { return value && values.indexOf(value) < index; });
      if (!chosen.length) { warn("Choose at least your first preference."); selects[0].focus(); return; }
      if (gap !== -1 && gap < last) {
        selects[gap].setAttribute("aria-invalid", "true");
        warn("Preference " + (gap + 1) + " is empty but a later one is not: give your preferences in order.");
        selects[gap].focus();
        return;
      }
      if (twice !== -1) {
        selects[twice].setAttribute("aria-invalid", "true");
        warn(nameOf(ballot, values[twice]) + " is ranked twice: rank each candidate once.");
        selects[twice].focus();
        return;
      }
      warn("");
      confirmStep(ballot, { ranking: chosen }, chosen.map(function (id) { return nameOf(ballot, id); }), true);
    } } })));
    return box;
  }

  function blockChooser(ballot) {
    var seats = ballot.subject.seats;
    var fieldset = el("fieldset", { class: "marks" },
      el("legend", { text: "Mark up to " + seats + (seats === 1 ? " candidate" : " candidates") }));
    ballot.subject.candidates.forEach(function (candidate) {
      var id = "mark-" + ballot.id + "-" + candidate.id;
      fieldset.appendChild(el("div", { class: "mark" },
        el("input", { type: "checkbox", id: id, value: candidate.id }),
        el("label", { for: id, text: candidate.name })));
    });
    return el("div", {}, fieldset, el("div", { class: "actions" }, el("button", { type: "button", text: "Review my marks", on: { click: function () {
      var marks = Array.prototype.map.call(fieldset.querySelectorAll("input:checked"), function (box) { return box.value; });
      if (!marks.length) { warn("Mark at least one candidate."); fieldset.querySelector("input").focus(); return; }
      if (marks.length > seats) { warn("You marked " + marks.length + " candidates: mark no more than " + seats + "."); return; }
      warn("");
      confirmStep(ballot, { marks: marks }, marks.map(function (id) { return nameOf(ballot, id); }), false);
    } } })));
  }

  function nameOf(ballot, candidateId) {
    var found = (ballot.subject.candidates || []).filter(function (c) { return c.id === candidateId; })[0];
    return found ? found.name : candidateId;
  }

  function describe(summary, ranked) {
    if (summary.length === 1 && !ranked) { return el("strong", { text: summary[0] }); }
    var list = el(ranked ? "ol" : "ul", {});
    summary.forEach(function (name) { list.appendChild(el("li", { text: name })); });
    return list;
  }

  /* ---------- confirming and casting ---------- */

  function confirmStep(ballot, vote, summary, ranked) {
    var title = el("h4", { id: "confirm-" + ballot.id, tabindex: "-1", text: "Confirm your vote" });
    var cast = el("button", { type: "button", text: "Cast my vote" });
    var change = el("button", { type: "button", class: "secondary", text: "Change my vote" });
    var view = el("div", { class: "confirm", role: "group", "aria-labelledby": "confirm-" + ballot.id },
      title,
      el("p", { text: "On “" + ballot.subject.title + "” you are voting:" }),
      describe(summary, ranked),
      el("p", { class: "help", text: "Once cast, your vote cannot be changed." }),
      el("div", { class: "actions" }, cast, change));
    cast.addEventListener("click", function () {
      cast.disabled = true;
      change.disabled = true;
      castVote(ballot, vote, summary, ranked);
    });
    change.addEventListener("click", function () {
      var again = chooser(ballot);
      replaceWork(ballot, again, again.querySelector("button, select, input"));
    });
    replaceWork(ballot, view, title);
  }

  function castVote(ballot, vote, summary, ranked) {
    var record = kept(ballot.id);
    record.request_id = record.request_id || newRequestId();
    record.summary = summary;
    record.ranked = ranked;
    keep(ballot.id, record);
    say("Casting your vote…");
    var body = Object.assign({ request_id: record.request_id }, vote);
    var session = state.session;
    api("POST", "/api/v1/ballots/" + encodeURIComponent(ballot.id) + "/votes", body).then(function (answer) {
      if (session !== state.session) { return; }  // signed out meanwhile: the ballot is no longer shown
      if (answer.ok) {
        record.receipt = answer.data.receipt;
        keep(ballot.id, record);
        warn("");
        say("Your vote on “" + ballot.subject.title + "” is recorded.");
        var view = receiptView(ballot, record, true);
        replaceWork(ballot, view, view.querySelector("h4"));
        return;
      }
      var fields = answer.error.fields || {};
      var why = refused(answer);
      if (why) { signOut(why); return; }
      if (answer.status === 409 && fields.choice) {
        warn("You have already voted in this ballot: only your first vote counts, and it cannot be changed.");
        replaceWork(ballot, alreadyVoted(ballot, record), null);
      } else if (answer.status === 409 && fields.ballot) {
        warn("This ballot is closed: votes are no longer accepted.");
        replaceWork(ballot, el("p", { text: "This ballot is closed: votes are no longer accepted." }), null);
        scheduleRefresh(0);
      } else if (answer.status === 403) {
        warn("You cannot vote in this ballot: you are not in its electorate (" + (answer.error.message || "refused") + ").");
        replaceWork(ballot, el("p", { text: "You are not in this ballot's electorate: " + (answer.error.message || "") }), null);
      } else if (answer.status === 0 || answer.status >= 500) {
        warn("Your vote may not have been recorded: the server did not answer. Cast it again: it will not be counted twice.");
        confirmStep(ballot, vote, summary, ranked);
      } else {
        warn(answer.error.message || "Your vote was refused (" + answer.status + ").");
        var again = chooser(ballot);
        replaceWork(ballot, again, again.querySelector("button, select, input"));
      }
    });
  }

  function alreadyVoted(ballot, record) {
    if (record.receipt) { return receiptView(ballot, record, false); }
    return el("div", { class: "receipt" },
      el("h4", { text: "You have already voted" }),
      el("p", { text: "A vote from you is recorded in this ballot. Its receipt was shown when it was cast; this page cannot show it again." }));
  }

  function receiptText(ballot, receipt) {
    return [
      "Ballot receipt",
      "Ballot: " + ballot.subject.title + " (" + ballot.body_name + ")",
      "Ballot id: " + ballot.id,
      "Receipt: " + receipt,
      "",
      "After the close, find this receipt in the published record:",
      window.location.origin + "/api/v1/ballots/" + ballot.id + "/record",
      "Keep it to yourself: the record shows the vote next to its receipt."
    ].join("\n") + "\n";
  }

  function receiptView(ballot, record, fresh) {
    var code = el("code", { class: "receipt-code", id: "receipt-" + ballot.id, text: record.receipt });
    var copy = el("button", { type: "button", text: "Copy receipt" });
    var download = el("button", { type: "button", class: "secondary", text: "Download receipt" });
    copy.addEventListener("click", function () {
      var done = function () { say("Receipt copied."); };
      var fallback = function () {
        var range = document.createRange();
        range.selectNodeContents(code);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        say("The receipt is selected: copy it with your device's copy command.");
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(record.receipt).then(done, fallback);
      } else { fallback(); }
    });
    download.addEventListener("click", function () {
      var url = URL.createObjectURL(new Blob([receiptText(ballot, record.receipt)], { type: "text/plain" }));
      var link = el("a", { href: url, download: "receipt-" + ballot.id + ".txt", hidden: true });
      document.body.appendChild(link);
      link.click();
      link.remove();
      window.setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
      say("The receipt is downloaded as a text file.");
    });
    return el("div", { class: "receipt", role: "group", "aria-labelledby": "receipt-title-" + ballot.id },
      el("h4", { id: "receipt-title-" + ballot.id, tabindex: "-1",
        text: fresh ? "Your vote is recorded" : "You have voted" }),
      record.summary ? el("p", {}, "Your vote: ", describe(record.summary, record.ranked)) : null,
      el("p", { text: "Your receipt:" }),
      code,
      el("p", { class: "help",
        text: "Keep it to yourself. When the ballot closes, find it in the published record to check that your vote was counted as you cast it." }),
      el("div", { class: "actions" }, copy, download));
  }

  /* ---------- after the close: the receipt in the published record ---------- */

  function closedCard(ballot) {
    var article = card(ballot);
    article.appendChild(el("p", { class: "meta", text: ballot.body_name + " · Closed" }));
    var result = ballot.result;
    if (result && ballot.kind === "motion") {
      var outcome = { adopted: "Adopted", rejected: "Rejected", no_quorum: "No quorum" }[result.outcome] || result.outcome;
      article.appendChild(el("p", {}, el("strong", { text: outcome }),
        " (yes " + result.tally.yes + ", no " + result.tally.no + ", abstain " + result.tally.abstain + ")"));
    } else if (result) {
      article.appendChild(el("p", {}, "Elected: ", el("strong", { text: (result.elected_names || []).join(", ") || "no one" })));
    }
    var record = kept(ballot.id);
    var inputId = "check-" + ballot.id;
    var input = el("input", { type: "text", id: inputId, autocomplete: "off", spellcheck: "false", autocapitalize: "off" });
    input.value = record.receipt || "";
    var outcomeLine = el("p", { class: "check-result" });
    var button = el("button", { type: "button", text: "Find my receipt" });
    button.addEventListener("click", function () { findReceipt(ballot, input, outcomeLine); });
    article.appendChild(el("div", { class: "check" },
      el("h4", { text: "Find your receipt in the published record" }),
      el("label", { for: inputId, text: "Receipt" }),
      input,
      el("div", { class: "actions" }, button),
      outcomeLine));
    return article;
  }

  function findReceipt(ballot, input, line) {
    var receipt = input.value.trim().toLowerCase();
    if (!receipt) { warn("Enter the receipt you were given when you voted."); input.focus(); return; }
    say("Reading the published record…");
    api("GET", "/api/v1/ballots/" + encodeURIComponent(ballot.id) + "/record", undefined, true).then(function (answer) {
      if (!answer.ok) {
        warn(answer.status === 409 ? "The record of this ballot is not published yet." : "The record could not be read (" + answer.status + ").");
        return;
      }
      var published = answer.data;
      var mine = (published.ballots || []).filter(function (b) { return String(b.receipt).toLowerCase() === receipt; })[0];
      line.replaceChildren();
      if (mine) {
        var names = (published.ballot && published.ballot.candidates) || {};
        var reads = mine.choice
          ? { yes: "Yes", no: "No", abstain: "Abstain" }[mine.choice] || mine.choice
          : (mine.ranking || []).map(function (id) { return names[id] || id; }).join(", then ");
        line.appendChild(el("span", { class: "found", text: "Found in the published record" }));
        line.appendChild(document.createTextNode(": your ballot reads " + reads + ". Record digest " + published.digest + "."));
        warn("");
        say("Found in the published record: your ballot reads " + reads + ".");
      } else {
        line.appendChild(el("span", { class: "not-found", text: "Not in the published record" }));
        line.appendChild(document.createTextNode(": check that the receipt is whole; if it is, tell the Secretariat at once."));
        warn("This receipt is not in the published record of the ballot.");
      }
    });
  }

  /* ---------- staying current ---------- */

  function scheduleRefresh(delay) {
    if (!state.credential || !state.loaded || state.refresh !== null) { return; }
    // Spread the page reloads of a whole congress over a moment when a ballot opens or closes.
    var wait = delay === undefined ? Math.floor(Math.random() * 800) : delay;
    state.refresh = window.setTimeout(function () {
      state.refresh = null;
      load(false);
    }, wait);
  }

  function expect(ballotId, status) {
    state.expected = { ballot: ballotId, status: status, attempts: 0 };
    scheduleRefresh();
  }

  function checkExpected() {
    var wanted = state.expected;
    if (!wanted) { return; }
    var now = state.ballots[wanted.ballot];
    if (now && now.status === wanted.status) { state.expected = null; return; }
    wanted.attempts += 1;
    if (wanted.attempts > 4) { state.expected = null; return; }
    scheduleRefresh(1000);  // the answer came from a gateway that had not heard the event yet
  }

  function watch() {
    var live = $("live");
    state.stream = window.CongressStream.open(null, {
      ready: function () { scheduleRefresh(0); },  // caught up after a (re)connection
      connection: function (up) { live.textContent = up ? "Live: this page updates by itself." : "Reconnecting…"; },
      "ballot.opened": function (data) { if (state.bodies[data.body_id]) { expect(data.ballot_id, "open"); } },
      "ballot.closed": function (data) { if (state.ballots[data.ballot_id]) { expect(data.ballot_id, "closed"); } },
      "congress.closed": function () { scheduleRefresh(); }
    });
  }

  takeCredentialFromLink();
  $("sign-in-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", function () { signOut(); });
  state.credential = sessionStorage.getItem(CREDENTIAL);
  if (state.credential) { load(true); }
}());
