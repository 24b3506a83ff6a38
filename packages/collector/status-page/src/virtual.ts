/**
 * Window math for the virtualised table: which rows a viewport shows, so only
 * those (plus a little overscan) exist in the DOM, whatever the session count.
 */

export interface RowWindow {
  /** First row to render. */
  start: number;
  /** One past the last row to render. */
  end: number;
}

export function visibleWindow(
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  rowCount: number,
  overscan = 6,
): RowWindow {
  if (rowCount <= 0 || rowHeight <= 0) return { start: 0, end: 0 };
  const top = Math.max(0, scrollTop);
  const first = Math.min(rowCount - 1, Math.floor(top / rowHeight));
  const last = Math.ceil((top + Math.max(0, viewportHeight)) / rowHeight);
  return {
    start: Math.max(0, first - overscan),
    end: Math.min(rowCount, Math.max(first + 1, last) + overscan),
  };
}

/** Height of the scrollable content for `rowCount` rows. */
export function contentHeight(rowHeight: number, rowCount: number): number {
  return Math.max(0, rowHeight * rowCount);
}

/**
 * The scrollTop that brings row `index` fully into view, moving as little as
 * possible (unchanged when it already is).
 */
export function scrollToReveal(index: number, scrollTop: number, viewportHeight: number, rowHeight: number): number {
  const rowTop = index * rowHeight;
  const rowBottom = rowTop + rowHeight;
  if (rowTop < scrollTop) return rowTop;
  if (rowBottom > scrollTop + viewportHeight) return Math.max(0, rowBottom - viewportHeight);
  return scrollTop;
}
