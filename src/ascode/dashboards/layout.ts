/**
 * Rows of panel drafts placed on Grafana's 24-column grid: each row's panels flow left to right
 * and wrap, ids count up through the dashboard, so the same rows always give the same JSON.
 */
import type { Panel, RowPanel } from '../dashboard-model.ts';
import type { PanelContext, PanelDraft } from './panels.ts';

export const gridColumns = 24;

export interface RowSpec {
  readonly title: string;
  /**
   * Collapsed rows keep their panels inside the row, and Grafana runs their queries only when
   * someone opens the row: for what on-call reads second (overhead, runtime).
   */
  readonly collapsed?: boolean;
  readonly panels: readonly PanelDraft[];
}

/** A row of a dashboard; `undefined` when the config has nothing for it (no SLOs, say). */
export type RowBuilder = (ctx: PanelContext) => RowSpec | undefined;

/** Places `drafts` from line `top` down; returns the panels and the first free line below them. */
function flow(
  drafts: readonly PanelDraft[],
  top: number,
  nextId: () => number,
): { panels: Panel[]; bottom: number } {
  const panels: Panel[] = [];
  let x = 0;
  let y = top;
  let lineHeight = 0;
  for (const { width, height, panel } of drafts) {
    if (width < 1 || width > gridColumns) throw new Error(`panel "${panel.title}" is ${width} columns wide`);
    if (x + width > gridColumns) {
      y += lineHeight;
      x = 0;
      lineHeight = 0;
    }
    panels.push({ id: nextId(), ...panel, gridPos: { h: height, w: width, x, y } });
    x += width;
    lineHeight = Math.max(lineHeight, height);
  }
  return { panels, bottom: y + lineHeight };
}

export function layoutRows(rows: readonly RowSpec[]): (Panel | RowPanel)[] {
  let id = 0;
  const nextId = () => ++id;
  const placed: (Panel | RowPanel)[] = [];
  let y = 0;
  for (const row of rows) {
    const rowId = nextId();
    const rowTop = y;
    const { panels, bottom } = flow(row.panels, rowTop + 1, nextId);
    const header = {
      id: rowId,
      type: 'row' as const,
      title: row.title,
      gridPos: { h: 1, w: gridColumns, x: 0, y: rowTop },
    };
    if (row.collapsed) {
      // Grafana stores a collapsed row's panels where they will be once it is opened.
      placed.push({ ...header, collapsed: true, panels });
      y = rowTop + 1;
    } else {
      placed.push({ ...header, collapsed: false, panels: [] }, ...panels);
      y = bottom;
    }
  }
  return placed;
}
