/**
 * Grafana file provisioning for the generated dashboards: a dashboard provider reading them from
 * one folder, and an example Prometheus datasource whose uid the dashboards' variable can pick.
 */
import { yamlFile } from '../rule-files.ts';

/** Where Grafana reads the dashboards from: mount or copy dashboards/*.json there. */
export const grafanaDashboardPath = '/var/lib/grafana/dashboards/sluice';

export const provisioningFiles = {
  dashboards: 'dashboards/provisioning/sluice-dashboards.yaml',
  datasource: 'dashboards/provisioning/sluice-datasource.yaml',
} as const;

export function provisioning(header: string): Map<string, string> {
  const dashboards = yamlFile(
    [
      header,
      'Copy to /etc/grafana/provisioning/dashboards/, and mount or copy dashboards/*.json to',
      `${grafanaDashboardPath}. Grafana picks up changed files within updateIntervalSeconds.`,
    ].join('\n'),
    {
      apiVersion: 1,
      providers: [
        {
          name: 'sluice',
          orgId: 1,
          folder: 'Sluice',
          type: 'file',
          disableDeletion: false,
          // Edits made in Grafana would be lost on the next update; change the config and regenerate.
          allowUiUpdates: false,
          updateIntervalSeconds: 30,
          options: { path: grafanaDashboardPath, foldersFromFilesStructure: false },
        },
      ],
    },
  );
  const datasource = yamlFile(
    [
      header,
      'An example: copy to /etc/grafana/provisioning/datasources/ and set PROMETHEUS_URL in Grafana’s',
      'environment, or skip it and pick your own Prometheus in the dashboards’ datasource variable.',
      'timeInterval is the scrape interval: $__rate_interval in the dashboards is computed from it.',
    ].join('\n'),
    {
      apiVersion: 1,
      datasources: [
        {
          name: 'Prometheus',
          type: 'prometheus',
          uid: 'prometheus',
          access: 'proxy',
          url: '$PROMETHEUS_URL',
          isDefault: true,
          jsonData: { httpMethod: 'POST', timeInterval: '15s' },
        },
      ],
    },
  );
  return new Map([
    [provisioningFiles.dashboards, dashboards],
    [provisioningFiles.datasource, datasource],
  ]);
}
