/* The staff calendar: FullCalendar fed by /calendar/events/, booking and moving through
 * the server's rules. Times travel as the viewer's wall-clock time without an offset;
 * FullCalendar runs in UTC-coercion mode ("UTC" below) so it shows them as they are. */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("calendar-config").textContent);
  const $ = (id) => document.getElementById(id);
  const csrf = () => document.querySelector("#book-form [name=csrfmiddlewaretoken]").value;
  const PHONE = window.matchMedia("(max-width: 767px)");
  let calendar;
  let current = null; // the event whose dialog is open

  // "2026-12-01T10:00:00Z" (UTC-coerced wall clock) -> "2026-12-01T10:00:00"
  const wall = (str) => str.replace(/(Z|[+-]\d\d:\d\d)$/, "");

  function notice(text, ok) {
    const box = $("calendar-notice");
    box.textContent = text;
    box.className = "calendar-notice " + (ok ? "ok" : "error");
    box.hidden = false;
  }

  function selectedTrainers() {
    if (!config.manager) return [];
    return Array.from(document.querySelectorAll("#calendar-options input[name=trainer]:checked")).map((i) => i.value);
  }

  function paintSwatches() {
    const chosen = selectedTrainers();
    document.querySelectorAll(".swatch").forEach((s) => {
      const i = chosen.indexOf(s.dataset.trainer);
      s.style.background = chosen.length > 1 && i >= 0 ? config.colours[i] : "transparent";
    });
  }

  function remember() {
    const url = new URL(window.location.href);
    url.searchParams.delete("trainer");
    selectedTrainers().forEach((t) => url.searchParams.append("trainer", t));
    if ($("show-cancelled").checked) url.searchParams.set("cancelled", "1");
    else url.searchParams.delete("cancelled");
    if (calendar) url.searchParams.set("date", calendar.getDate().toISOString().slice(0, 10));
    window.history.replaceState(null, "", url);
  }

  // One FullCalendar event source per endpoint: the sessions, and the shown trainer's
  // time outside her working hours (background events; none when several are shown).
  function source(url) {
    return function (info, success, failure) {
      const params = new URLSearchParams({ start: wall(info.startStr), end: wall(info.endStr) });
      selectedTrainers().forEach((t) => params.append("trainer", t));
      if ($("show-cancelled").checked) params.set("cancelled", "1");
      fetch(url + "?" + params, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then((r) => r.json().then((body) => ({ ok: r.ok, body })))
        .then(({ ok, body }) => {
          if (!ok) throw new Error((body.errors || ["The calendar could not be loaded."]).join(" "));
          success(body);
        })
        .catch((err) => {
          notice(err.message, false);
          failure(err);
        });
    };
  }
  const isShading = (event) => event.display === "background";

  function post(url, data) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf(), Accept: "application/json" },
      body: data,
    }).then((r) =>
      r
        .json()
        .catch(() => ({ errors: ["The server did not answer (" + r.status + ")."] }))
        .then((body) => ({ ok: r.ok, body }))
    );
  }

  // --- Moving and resizing ---------------------------------------------------------------------
  function moved(info) {
    const data = new FormData();
    data.set("start", wall(info.event.startStr));
    data.set("end", wall(info.event.endStr));
    post(config.sessionUrl + info.event.id + "/move/", data).then(({ ok, body }) => {
      if (!ok) {
        info.revert(); // snap back: the server said no
        notice((body.errors || ["The session could not be moved."]).join(" "), false);
        return;
      }
      notice(body.message, true);
      calendar.refetchEvents();
    });
  }

  // --- The session dialog -------------------------------------------------------------------------
  function openSession(info) {
    info.jsEvent.preventDefault();
    if (isShading(info.event)) return;
    current = info.event;
    const p = current.extendedProps;
    $("session-title").textContent = current.title;
    $("session-when").textContent = p.when + (p.clientTime ? " (client's time " + p.clientTime + ")" : "");
    $("session-status").textContent = p.statusLabel;
    $("session-location").textContent = p.location || "—";
    $("session-trainer").textContent = p.trainer;
    $("session-message").href = p.inboxUrl;
    $("session-admin").href = p.adminUrl;
    $("session-error").hidden = true;
    document.querySelectorAll("#session-dialog [data-action]").forEach((b) => {
      b.hidden = !p.actions.includes(b.dataset.action);
    });
    $("session-dialog").showModal();
  }

  function act(action) {
    if (!current) return;
    if (action === "cancel" && !window.confirm("Cancel this session? The client is told if a rule says so.")) return;
    post(config.sessionUrl + current.id + "/" + action + "/", new FormData()).then(({ ok, body }) => {
      if (!ok) {
        const box = $("session-error");
        box.textContent = (body.errors || ["That did not work."]).join(" ");
        box.hidden = false;
        return;
      }
      $("session-dialog").close();
      notice(body.message, true);
      calendar.refetchEvents();
    });
  }

  // --- Booking -----------------------------------------------------------------------------------
  let searchTimer;
  function searchClients() {
    const q = $("book-client-q").value;
    fetch(config.clientsUrl + "?" + new URLSearchParams({ q }), { credentials: "same-origin" })
      .then((r) => r.json())
      .then((body) => {
        const select = $("book-client");
        select.replaceChildren();
        body.results.forEach((c) => select.add(new Option(c.text + (c.email ? " · " + c.email : ""), c.id)));
        if (body.results.length === 1) select.selectedIndex = 0;
      });
  }

  // The server's words and 24-hour clock: "Tue 08 Dec 2026, 10:00" (UTC fields = wall clock).
  const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const two = (n) => String(n).padStart(2, "0");
  function wallClockText(d) {
    return DAYS[d.getUTCDay()] + " " + two(d.getUTCDate()) + " " + MONTHS[d.getUTCMonth()] + " " +
      d.getUTCFullYear() + ", " + two(d.getUTCHours()) + ":" + two(d.getUTCMinutes());
  }

  function openBooking(info) {
    calendar.unselect();
    if (!config.canBook) return;
    const minutes = Math.round((info.end - info.start) / 60000);
    $("book-start").value = wall(info.startStr);
    $("book-duration").value = info.allDay || minutes < 15 ? 60 : minutes;
    $("book-when").textContent = wallClockText(info.start) + " (" + config.zone + ")";
    $("book-error").hidden = true;
    $("book-client-q").value = "";
    const chosen = selectedTrainers();
    if (config.manager && chosen.length) $("book-trainer").value = chosen[0];
    searchClients();
    $("book-dialog").showModal();
    $("book-client-q").focus();
  }

  function book(e) {
    e.preventDefault();
    const data = new FormData($("book-form"));
    $("book-submit").disabled = true;
    post(config.bookUrl, data)
      .then(({ ok, body }) => {
        if (!ok) {
          const box = $("book-error");
          box.textContent = (body.errors || ["The session could not be booked."]).join(" ");
          box.hidden = false;
          return;
        }
        $("book-dialog").close();
        notice(body.message, true);
        calendar.refetchEvents();
      })
      .finally(() => {
        $("book-submit").disabled = false;
      });
  }

  // --- Start --------------------------------------------------------------------------------------
  function nowWallClock() {
    return new Date(Date.now() + config.offsetMinutes * 60000);
  }

  function start() {
    paintSwatches();
    calendar = new FullCalendar.Calendar($("calendar"), {
      timeZone: "UTC",
      now: nowWallClock,
      initialDate: config.initialDate,
      initialView: PHONE.matches ? "listWeek" : "timeGridWeek",
      headerToolbar: PHONE.matches
        ? { left: "prev,next", center: "title", right: "today" }
        : { left: "prev,next today", center: "title", right: "timeGridWeek,timeGridDay,listWeek" },
      footerToolbar: PHONE.matches ? { center: "listWeek,timeGridDay" } : false,
      buttonText: { today: "Today", week: "Week", day: "Day", list: "List" },
      firstDay: 1,
      height: PHONE.matches ? "auto" : Math.max(560, window.innerHeight - 160),
      expandRows: true,
      allDaySlot: false,
      nowIndicator: true,
      scrollTime: "07:00:00",
      slotDuration: "00:30:00",
      snapDuration: "00:15:00",
      slotLabelFormat: { hour: "2-digit", minute: "2-digit", hour12: false },
      eventTimeFormat: { hour: "2-digit", minute: "2-digit", hour12: false },
      dayHeaderFormat: PHONE.matches ? { weekday: "short", day: "numeric" } : { weekday: "short", day: "numeric", month: "short" },
      selectable: config.canBook,
      selectMirror: true,
      selectAllow: (span) => span.start >= nowWallClock(),
      editable: true,
      eventDurationEditable: true,
      eventSources: [
        { id: "sessions", events: source(config.eventsUrl) },
        { id: "availability", events: source(config.availabilityUrl) },
      ],
      eventDrop: moved,
      eventResize: moved,
      eventClick: openSession,
      select: openBooking,
      datesSet: remember,
      eventDidMount: (info) => {
        if (isShading(info.event)) {
          info.el.title = "Outside working hours";
          return;
        }
        const p = info.event.extendedProps;
        info.el.title = [info.event.title, p.when, p.statusLabel, p.location].filter(Boolean).join("\n");
        info.el.dataset.sessionId = info.event.id;
      },
      eventContent: (arg) => {
        if (isShading(arg.event)) return true; // the default: an empty shade
        const p = arg.event.extendedProps;
        const wrap = document.createElement("div");
        wrap.className = "ev";
        const time = document.createElement("span");
        time.className = "ev-time";
        time.textContent = arg.timeText;
        const title = document.createElement("span");
        title.className = "ev-title";
        title.textContent = arg.event.title;
        wrap.append(time, " ", title);
        if (p.location) {
          const loc = document.createElement("span");
          loc.className = "ev-loc";
          loc.textContent = p.location;
          wrap.append(loc);
        }
        if (config.manager && selectedTrainers().length > 1) {
          const who = document.createElement("span");
          who.className = "ev-loc";
          who.textContent = p.trainer;
          wrap.append(who);
        }
        return { domNodes: [wrap] };
      },
    });
    calendar.render();
    window.fitcrmCalendar = calendar;

    $("show-cancelled").addEventListener("change", () => {
      remember();
      calendar.refetchEvents();
    });
    document.querySelectorAll("#calendar-options input[name=trainer]").forEach((i) =>
      i.addEventListener("change", () => {
        paintSwatches();
        remember();
        calendar.refetchEvents();
      })
    );
    document.querySelectorAll("#session-dialog [data-action]").forEach((b) =>
      b.addEventListener("click", () => act(b.dataset.action))
    );
    $("book-form").addEventListener("submit", book);
    $("book-client-q").addEventListener("input", () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(searchClients, 200);
    });
    $("copy-feed").addEventListener("click", () => {
      const input = $("feed-url");
      input.select();
      (navigator.clipboard ? navigator.clipboard.writeText(input.value) : Promise.reject())
        .catch(() => document.execCommand("copy"))
        .then(() => { $("copy-feed").textContent = "Copied"; });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
