/**
 * The part of Grafana's classic dashboard JSON model (schemaVersion 41) that Sluice's generated
 * dashboards use, typed, so a panel without a unit or a description does not compile.
 */

export interface DatasourceRef {
  readonly type: 'prometheus';
  /** `${datasource}`: every panel reads the dashboard's datasource variable. */
  readonly uid: string;
}

export interface Target {
  readonly refId: string;
  readonly expr: string;
  readonly legendFormat: string;
  readonly datasource: DatasourceRef;
  /** Tables and bar gauges read the latest value only. */
  readonly instant?: boolean;
  readonly range?: boolean;
  readonly format?: 'time_series' | 'table';
}

export interface GridPos {
  readonly h: number;
  readonly w: number;
  readonly x: number;
  readonly y: number;
}

export type PanelType = 'timeseries' | 'stat' | 'gauge' | 'bargauge' | 'table';

export interface Panel {
  readonly id: number;
  readonly type: PanelType;
  readonly title: string;
  readonly description: string;
  readonly datasource: DatasourceRef;
  readonly gridPos: GridPos;
  readonly targets: readonly Target[];
  readonly fieldConfig: {
    readonly defaults: {
      /** A Grafana unit id: `s`, `percentunit`, `reqps`, `bytes`, `currencyUSD`, `short`, … */
      readonly unit: string;
      readonly min?: number;
      readonly max?: number;
      readonly decimals?: number;
      readonly thresholds?: {
        readonly mode: 'absolute' | 'percentage';
        readonly steps: readonly { readonly color: string; readonly value: number | null }[];
      };
      readonly custom?: Readonly<Record<string, unknown>>;
    };
    readonly overrides: readonly unknown[];
  };
  readonly options?: Readonly<Record<string, unknown>>;
}

export interface RowPanel {
  readonly id: number;
  readonly type: 'row';
  readonly title: string;
  readonly collapsed: boolean;
  readonly gridPos: GridPos;
  readonly panels: readonly Panel[];
}

export interface TemplateVariable {
  readonly name: string;
  readonly label: string;
  readonly type: 'datasource' | 'query' | 'custom';
  readonly query: string | { readonly query: string; readonly refId: string };
  /** The query as the variable editor shows it. */
  readonly definition?: string;
  readonly datasource?: DatasourceRef;
  readonly current: Readonly<Record<string, unknown>>;
  readonly hide: 0 | 1 | 2;
  readonly includeAll?: boolean;
  readonly multi?: boolean;
  readonly allValue?: string;
  readonly refresh?: 0 | 1 | 2;
  readonly regex?: string;
  readonly sort?: number;
  readonly options: readonly unknown[];
}

/** A query whose results Grafana marks on every time series panel (a config reload, say). */
export interface Annotation {
  readonly name: string;
  readonly datasource: DatasourceRef;
  readonly enable: boolean;
  readonly iconColor: string;
  readonly expr: string;
  readonly titleFormat: string;
  readonly textFormat?: string;
  readonly step?: string;
}

/** A dropdown of the dashboards carrying `tags`, keeping the time range and variables when switching. */
export interface DashboardLink {
  readonly type: 'dashboards';
  readonly title: string;
  readonly tags: readonly string[];
  readonly asDropdown: boolean;
  readonly includeVars: boolean;
  readonly keepTime: boolean;
}

export interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly tags: readonly string[];
  readonly schemaVersion: number;
  readonly version: number;
  readonly editable: boolean;
  readonly graphTooltip: 0 | 1 | 2;
  readonly time: { readonly from: string; readonly to: string };
  readonly refresh: string;
  readonly timezone: string;
  readonly templating: { readonly list: readonly TemplateVariable[] };
  readonly annotations: { readonly list: readonly Annotation[] };
  readonly links: readonly DashboardLink[];
  readonly panels: readonly (Panel | RowPanel)[];
}

export interface GeneratedDashboards {
  readonly dashboards: readonly Dashboard[];
  /** Relative path → file content (dashboards/*.json, dashboards/provisioning/*.yaml). */
  readonly files: Map<string, string>;
}

/** Every query panel of a dashboard, rows unfolded. */
export function queryPanels(dashboard: Dashboard): Panel[] {
  return dashboard.panels.flatMap((panel) => (panel.type === 'row' ? panel.panels : [panel]));
}
