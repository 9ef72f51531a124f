// The activities calendar (EventCalendar); built with the calendar page.
import { createCalendar } from "@event-calendar/core";
import "@event-calendar/core/index.css";

window.KestrelCreateCalendar = createCalendar;
