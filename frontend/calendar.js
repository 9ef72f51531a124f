// The activities calendar (EventCalendar): month, week, day and agenda views of the user's or a
// team's activities; drag or resize to reschedule, click or drag across empty time to create.
// EventCalendar styles its elements through the CSSOM (el.style), never style attributes or
// <style> elements, so it runs under the strict Content-Security-Policy.
import { createCalendar, DayGrid, TimeGrid, List, Interaction } from "@event-calendar/core";
import "@event-calendar/core/index.css";

const pad = (n) => String(n).padStart(2, "0");

// A local Date as an ISO string with the browser's offset ("2026-11-26T10:00:00+01:00"), or
// as a date alone for all-day values.
function iso(date, dateOnly) {
  const day = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  if (dateOnly) return day;
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  const abs = Math.abs(offset);
  return `${day}T${pad(date.getHours())}:${pad(date.getMinutes())}:00${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

function csrfToken() {
  const meta = document.querySelector("meta[name=csrf-token]");
  return meta ? meta.content : "";
}

function start(element) {
  const config = JSON.parse(element.dataset.config);
  const canCreate = element.dataset.canCreate === "1";
  const status = document.getElementById("calendar-status");
  const scope = document.getElementById("calendar-scope");
  const params = new URLSearchParams(window.location.search);
  if (scope && params.get("scope")) scope.value = params.get("scope");

  function say(message, isError) {
    if (!status) return;
    status.textContent = message;
    status.hidden = !message;
    status.classList.toggle("is-error", Boolean(isError));
  }

  function openCreate(startDate, endDate, allDay) {
    if (!canCreate) return;
    const query = new URLSearchParams({
      type: "meeting",
      start: iso(startDate, allDay),
      end: iso(endDate, allDay),
      next: window.location.pathname + window.location.search,
    });
    window.location.assign(`${config.create}?${query}`);
  }

  async function reschedule(info) {
    const url = config.reschedule.replace("/0/", `/${info.event.id}/`);
    const event = info.event;
    const body = {
      start: iso(event.start, event.allDay),
      end: event.end ? iso(event.end, event.allDay) : "",
      all_day: event.allDay,
    };
    try {
      const response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify(body),
      });
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) {
        info.revert();
        say(answer.message || "That change was not saved.", true);
        return;
      }
      say(`Moved “${event.title}”.`, false);
    } catch (error) {
      info.revert();
      say("The server could not be reached; nothing was changed.", true);
    }
  }

  function remember(view) {
    if (!view || !view.type) return;
    const url = new URL(window.location.href);
    url.searchParams.set("view", view.type);
    if (view.currentStart) url.searchParams.set("date", iso(view.currentStart, true));
    if (scope) url.searchParams.set("scope", scope.value);
    window.history.replaceState(null, "", url);
  }

  // Only views and dates we know: the address bar is user input.
  const views = ["dayGridMonth", "timeGridWeek", "timeGridDay", "listWeek"];
  const wantedView = params.get("view") || config.view;
  const wantedDate = params.get("date") || config.date || "";

  const calendar = createCalendar(element, [DayGrid, TimeGrid, List, Interaction], {
    view: views.includes(wantedView) ? wantedView : "dayGridMonth",
    date: /^\d{4}-\d{2}-\d{2}$/.test(wantedDate) ? wantedDate : undefined,
    height: "auto",
    firstDay: 1,
    nowIndicator: true,
    selectable: canCreate,
    editable: true,
    dayMaxEvents: true,
    scrollTime: "08:00:00",
    headerToolbar: {
      start: "prev,next today",
      center: "title",
      end: "dayGridMonth,timeGridWeek,timeGridDay,listWeek",
    },
    buttonText: {
      today: "Today",
      dayGridMonth: "Month",
      timeGridWeek: "Week",
      timeGridDay: "Day",
      listWeek: "Agenda",
    },
    eventSources: [
      {
        events: async (info) => {
          const query = new URLSearchParams({
            start: iso(info.start, false),
            end: iso(info.end, false),
            scope: scope ? scope.value : "mine",
          });
          const response = await fetch(`${config.events}?${query}`, {
            credentials: "same-origin",
            headers: { Accept: "application/json" },
          });
          if (!response.ok) {
            const answer = await response.json().catch(() => ({}));
            say(answer.message || "The calendar could not be loaded.", true);
            return [];
          }
          const cut = response.headers.get("X-Events-Truncated");
          if (cut) {
            say(
              `Showing the first ${Number(cut).toLocaleString()} activities of this period: ` +
                "choose the week or day view, or a smaller team, to see them all.",
              true,
            );
          }
          return response.json();
        },
      },
    ],
    eventClick: (info) => {
      const url = info.event.extendedProps && info.event.extendedProps.url;
      if (url) window.location.assign(url);
    },
    dateClick: (info) => {
      const end = new Date(info.date.getTime() + (info.allDay ? 86400000 : 1800000));
      openCreate(info.date, end, info.allDay);
    },
    select: (info) => openCreate(info.start, info.end, info.allDay),
    eventDrop: reschedule,
    eventResize: reschedule,
    // Keep the view and date in the address, so a reload (or coming back from the form)
    // shows the same place.
    datesSet: (info) => remember(info.view),
    viewDidMount: (info) => remember(info.view || info),
  });

  if (scope) {
    scope.addEventListener("change", () => {
      const url = new URL(window.location.href);
      url.searchParams.set("scope", scope.value);
      window.history.replaceState(null, "", url);
      calendar.refetchEvents();
    });
  }
  window.KestrelCalendar = calendar;
}

function copyButtons() {
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", async () => {
      const input = document.getElementById(button.dataset.copy);
      input.select();
      try {
        await navigator.clipboard.writeText(input.value);
        button.textContent = "Copied";
      } catch (error) {
        button.textContent = "Press Ctrl+C";
      }
    });
  }
}

function init() {
  const element = document.getElementById("calendar");
  if (element) start(element);
  copyButtons();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
else init();
