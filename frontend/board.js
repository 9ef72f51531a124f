// The deals board: drag-drop between stage columns (SortableJS); built with the deals board.
import Sortable from "sortablejs";

window.KestrelSortable = Sortable;
