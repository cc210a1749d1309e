import { GENERATED, MONITORING_PATHS } from "./paths";
import { AlertTiming, DEFAULT_GROUPING_SECONDS, formatDuration, scaleSeconds } from "./timing";
import { yamlDocument } from "./yaml";

export interface SmtpSettings {
    /** `host:port` of the relay. Port 465 means implicit TLS (Alertmanager decides by the port). */
    smarthost: string;
    from: string;
    /** Recipients. */
    to: string[];
    /** SMTP AUTH user; without it Alertmanager does not authenticate. */
    username?: string;
    /** Whether a password file is written (the password itself never enters this file). */
    hasPassword: boolean;
    /** Require STARTTLS. Default true; false only for a relay on a trusted network (e.g. a local sink). */
    requireTls: boolean;
    /** EHLO name. Default: the container's hostname (relays often refuse `localhost`). */
    hello: string;
}

export interface AlertmanagerConfigInput {
    smtp: SmtpSettings;
    timing: AlertTiming;
    smtpPasswordFile?: string;
}

/**
 * `/etc/prometheus/alertmanager.yml`: every alert goes to one email receiver, grouped by alertname and severity.
 * The SMTP password is read from a file (`smtp_auth_password_file`, Alertmanager ≥ 0.25) so this file holds no secret.
 */
export function renderAlertmanagerConfig(input: AlertmanagerConfigInput): string {
    const s = input.smtp;
    const scaled = (sec: number) => formatDuration(scaleSeconds(sec, input.timing.scale));
    return yamlDocument([GENERATED], {
        global: {
            smtp_smarthost: s.smarthost,
            smtp_from: s.from,
            smtp_hello: s.hello,
            smtp_auth_username: s.username,
            smtp_auth_password_file: s.hasPassword
                ? (input.smtpPasswordFile ?? MONITORING_PATHS.smtpPasswordFile)
                : undefined,
            smtp_require_tls: s.requireTls,
        },
        route: {
            receiver: "email",
            group_by: ["alertname", "severity"],
            group_wait: scaled(DEFAULT_GROUPING_SECONDS.groupWait),
            group_interval: scaled(DEFAULT_GROUPING_SECONDS.groupInterval),
            repeat_interval: scaled(DEFAULT_GROUPING_SECONDS.repeatInterval),
        },
        receivers: [{ name: "email", email_configs: [{ to: s.to.join(", "), send_resolved: true }] }],
    });
}
