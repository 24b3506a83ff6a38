/**
 * The virtualised sessions table: only the rows in view (plus overscan) exist,
 * positioned with transforms over a body as tall as all rows. A row updates
 * cell by cell, writing only text that changed, so an event for one session
 * touches one row and a tick touches two cells per visible row.
 */
import { COLUMNS, type Column } from "./columns.js";
import { el, setText } from "./dom.js";
import type { TableModel, SessionRow, SortKey } from "./table-model.js";
import { contentHeight, scrollToReveal, visibleWindow, type RowWindow } from "./virtual.js";

export const ROW_HEIGHT_PX = 40;
const OVERSCAN_ROWS = 8;

export interface TableHandlers {
  open(id: string): void;
  terminate(id: string): void;
  sort(key: SortKey): void;
}

interface RowView {
  element: HTMLElement;
  values: HTMLElement[];
  texts: string[];
  tones: string[];
  hints: string[];
  terminate: HTMLButtonElement;
  record: SessionRow | null;
  index: number;
}

export interface TableElements {
  viewport: HTMLElement;
  head: HTMLElement;
  body: HTMLElement;
}

export class VirtualTable {
  private readonly pool: RowView[] = [];
  private readonly visible = new Map<string, RowView>();
  private readonly headCells = new Map<SortKey, HTMLElement>();
  private window: RowWindow = { start: 0, end: 0 };
  private bodyHeight = -1;
  private selectedId: string | null = null;

  constructor(
    private readonly elements: TableElements,
    private readonly model: TableModel,
    private readonly handlers: TableHandlers,
  ) {
    this.buildHead();
    elements.body.addEventListener("click", (event) => this.onClick(event));
    elements.viewport.addEventListener("keydown", (event) => this.onKey(event));
  }

  get selected(): string | null {
    return this.selectedId;
  }

  /** Rebinds the rows in view: after a reorder, scroll, resize, filter or snapshot. Cost: the window, not the list. */
  renderWindow(nowMs: number): void {
    const { viewport, body, head } = this.elements;
    const count = this.model.shownCount;
    const height = contentHeight(ROW_HEIGHT_PX, count);
    if (height !== this.bodyHeight) {
      body.style.height = `${height}px`;
      this.bodyHeight = height;
    }
    const viewHeight = viewport.clientHeight - head.offsetHeight;
    this.window = visibleWindow(viewport.scrollTop, viewHeight, ROW_HEIGHT_PX, count, OVERSCAN_ROWS);
    const needed = this.window.end - this.window.start;
    while (this.pool.length < needed) this.pool.push(this.createRow());
    this.visible.clear();
    for (let slot = 0; slot < this.pool.length; slot++) {
      const row = this.pool[slot]!;
      const index = this.window.start + slot;
      const record = slot < needed ? this.model.at(index) : undefined;
      if (!record) {
        if (row.record) {
          row.record = null;
          row.element.hidden = true;
          delete row.element.dataset["id"];
          row.element.classList.remove("is-selected");
        }
        continue;
      }
      this.bind(row, record, index, nowMs);
      this.visible.set(record.info.id, row);
    }
  }

  /** Refreshes the row of one session in place, if it is in view. */
  refresh(id: string, nowMs: number): void {
    const row = this.visible.get(id);
    const record = this.model.get(id);
    if (row && record) this.bind(row, record, row.index, nowMs);
  }

  /** Updates the time columns of the rows in view. */
  tick(nowMs: number): void {
    for (const row of this.visible.values()) {
      const record = row.record!;
      COLUMNS.forEach((column, i) => {
        if (column.ticks) this.writeText(row, i, column.text(record, nowMs));
      });
    }
  }

  setSelected(id: string | null): void {
    if (this.selectedId === id) return;
    if (this.selectedId) this.visible.get(this.selectedId)?.element.classList.remove("is-selected");
    this.selectedId = id;
    if (id) this.visible.get(id)?.element.classList.add("is-selected");
  }

  /** Scrolls just enough to show a session's row. */
  reveal(id: string): void {
    const index = this.model.indexOf(id);
    if (index < 0) return;
    const { viewport, head } = this.elements;
    viewport.scrollTop = scrollToReveal(index, viewport.scrollTop, viewport.clientHeight - head.offsetHeight, ROW_HEIGHT_PX);
  }

  showSort(key: SortKey, direction: "asc" | "desc"): void {
    for (const [columnKey, cell] of this.headCells) {
      const active = columnKey === key;
      cell.setAttribute("aria-sort", active ? (direction === "asc" ? "ascending" : "descending") : "none");
      cell.classList.toggle("is-sorted", active);
      cell.classList.toggle("is-desc", active && direction === "desc");
    }
  }

  private buildHead(): void {
    const { head } = this.elements;
    for (const column of COLUMNS) {
      const cell = el("div", column.numeric ? "th num" : "th");
      cell.setAttribute("role", "columnheader");
      const button = el("button", "th-button");
      button.type = "button";
      button.append(el("span", "th-label", column.title), el("span", "th-arrow"));
      button.addEventListener("click", () => this.handlers.sort(column.key));
      cell.append(button);
      head.append(cell);
      this.headCells.set(column.key, cell);
    }
    const actions = el("div", "th th-actions");
    actions.setAttribute("role", "columnheader");
    actions.append(el("span", "visually-hidden", "Actions"));
    head.append(actions);
  }

  private createRow(): RowView {
    const element = el("div", "tr grid-row");
    element.setAttribute("role", "row");
    element.hidden = true;
    const values: HTMLElement[] = [];
    for (const column of COLUMNS) {
      const cell = el("div", column.numeric ? "td num" : "td");
      cell.setAttribute("role", "cell");
      cell.dataset["column"] = column.key;
      const value = el("span", "v");
      cell.append(value);
      element.append(cell);
      values.push(value);
    }
    const actions = el("div", "td td-actions");
    actions.setAttribute("role", "cell");
    const terminate = el("button", "btn btn-danger-ghost btn-small", "Terminate");
    terminate.type = "button";
    terminate.dataset["action"] = "terminate";
    actions.append(terminate);
    element.append(actions);
    this.elements.body.append(element);
    return {
      element,
      values,
      texts: COLUMNS.map(() => ""),
      tones: COLUMNS.map(() => "v"),
      hints: COLUMNS.map(() => ""),
      terminate,
      record: null,
      index: -1,
    };
  }

  private bind(row: RowView, record: SessionRow, index: number, nowMs: number): void {
    const { element } = row;
    const previousId = row.record?.info.id;
    row.record = record;
    if (row.index !== index) {
      row.index = index;
      element.style.transform = `translateY(${index * ROW_HEIGHT_PX}px)`;
      element.setAttribute("aria-rowindex", String(index + 2)); // the header is row 1
    }
    if (element.hidden) element.hidden = false;
    const id = record.info.id;
    if (previousId !== id) {
      element.dataset["id"] = id;
      element.classList.toggle("is-selected", id === this.selectedId);
    }
    COLUMNS.forEach((column: Column, i) => {
      this.writeText(row, i, column.text(record, nowMs));
      const tone = column.tone?.(record) ?? "v";
      if (row.tones[i] !== tone) {
        row.tones[i] = tone;
        row.values[i]!.className = tone;
      }
      if (column.hint) {
        const hint = column.hint(record);
        if (row.hints[i] !== hint) {
          row.hints[i] = hint;
          row.values[i]!.title = hint;
        }
      }
    });
    // Designer sessions are not terminated from here (as in Perspective).
    const terminable = record.info.sessionScope !== "designer";
    if (row.terminate.hidden === terminable) row.terminate.hidden = !terminable;
    const label = `Terminate session of ${record.info.username} (${record.info.project})`;
    if (row.terminate.getAttribute("aria-label") !== label) row.terminate.setAttribute("aria-label", label);
  }

  private writeText(row: RowView, i: number, text: string): void {
    if (row.texts[i] !== text) {
      row.texts[i] = text;
      setText(row.values[i]!, text);
    }
  }

  private onClick(event: MouseEvent): void {
    const target = event.target as Element | null;
    const rowElement = target?.closest<HTMLElement>(".tr");
    const id = rowElement?.dataset["id"];
    if (!id) return;
    if (target?.closest("[data-action=terminate]")) {
      event.stopPropagation();
      this.handlers.terminate(id);
      return;
    }
    this.handlers.open(id);
  }

  /** Arrow keys move the selection, Enter opens it, Delete asks to terminate it. */
  private onKey(event: KeyboardEvent): void {
    const count = this.model.shownCount;
    if (count === 0) return;
    const current = this.selectedId ? this.model.indexOf(this.selectedId) : -1;
    let next = current;
    const page = Math.max(1, Math.floor(this.elements.viewport.clientHeight / ROW_HEIGHT_PX) - 1);
    switch (event.key) {
      case "ArrowDown":
        next = Math.min(count - 1, current + 1);
        break;
      case "ArrowUp":
        next = Math.max(0, current - 1);
        break;
      case "PageDown":
        next = Math.min(count - 1, current + page);
        break;
      case "PageUp":
        next = Math.max(0, current - page);
        break;
      case "Home":
        next = 0;
        break;
      case "End":
        next = count - 1;
        break;
      case "Enter":
        if (this.selectedId) this.handlers.open(this.selectedId);
        event.preventDefault();
        return;
      case "Delete":
        if (this.selectedId) this.handlers.terminate(this.selectedId);
        event.preventDefault();
        return;
      default:
        return;
    }
    event.preventDefault();
    const record = this.model.at(next);
    if (!record) return;
    this.setSelected(record.info.id);
    this.reveal(record.info.id);
  }
}
