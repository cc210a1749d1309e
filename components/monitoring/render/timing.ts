/**
 * Durations of alert rules and notification grouping, and the one knob that scales them. Real homelabs keep the
 * document's durations (Service Down after 2m, ...); the live tests shorten them so an alert fires and a mail
 * arrives within a test's time budget, without a second copy of the rules.
 */

/** Names of the alert rules this project provisions (also the keys of `forOverrides`). */
export const ALERT_NAMES = [
    "ServiceDown",
    "NetworkDeviceUnreachable",
    "HighMemoryUsage",
    "HighCpuUsage",
    "DiskSpaceLow",
    "ContainerDown",
    "TlsCertificateExpiringSoon",
    "TlsCertificateExpiryImminent",
] as const;
export type AlertName = (typeof ALERT_NAMES)[number];

export interface AlertTiming {
    /**
     * Multiplies every rule's `for` and Alertmanager's group_wait, group_interval and repeat_interval. Default 1.
     * For tests: 0.05 turns "Service Down after 2m" into 6s and group_wait 30s into 2s. Results are rounded to whole
     * seconds, at least 1s.
     */
    scale: number;
    /** Per-rule `for` in seconds, applied instead of the scaled default, e.g. `{ ServiceDown: 10 }`. */
    forOverrides: Partial<Record<AlertName, number>>;
    /** Prometheus scrape_interval in seconds. Default 15 (the document's). */
    scrapeIntervalSeconds: number;
    /** Prometheus evaluation_interval in seconds. Default 15. */
    evaluationIntervalSeconds: number;
}

export const DEFAULT_ALERT_TIMING: AlertTiming = {
    scale: 1,
    forOverrides: {},
    scrapeIntervalSeconds: 15,
    evaluationIntervalSeconds: 15,
};

/** `for` of each rule at scale 1, in seconds (the document's thresholds; TLS rules: ours). */
export const DEFAULT_FOR_SECONDS: Record<AlertName, number> = {
    ServiceDown: 120,
    NetworkDeviceUnreachable: 300,
    HighMemoryUsage: 300,
    HighCpuUsage: 600,
    DiskSpaceLow: 300,
    ContainerDown: 120,
    TlsCertificateExpiringSoon: 600,
    TlsCertificateExpiryImminent: 600,
};

/** Alertmanager's grouping defaults at scale 1, in seconds. */
export const DEFAULT_GROUPING_SECONDS = { groupWait: 30, groupInterval: 300, repeatInterval: 14400 };

/** Prometheus/Alertmanager duration text for whole seconds: 120 → `2m`, 90 → `1m30s`, 14400 → `4h`. */
export function formatDuration(seconds: number): string {
    if (!Number.isInteger(seconds) || seconds < 0)
        throw new Error(`duration must be whole seconds ≥ 0, got ${seconds}`);
    if (seconds === 0) return "0s";
    const units: [string, number][] = [
        ["d", 86400],
        ["h", 3600],
        ["m", 60],
        ["s", 1],
    ];
    let rest = seconds;
    let out = "";
    for (const [u, n] of units) {
        const q = Math.floor(rest / n);
        if (q > 0) out += `${q}${u}`;
        rest -= q * n;
    }
    return out;
}

/** Scales seconds, rounding to whole seconds and never below 1s (a zero group_wait or `for` changes semantics). */
export function scaleSeconds(seconds: number, scale: number): number {
    return Math.max(1, Math.round(seconds * scale));
}

/** The `for` of one rule under a timing. */
export function ruleFor(name: AlertName, t: AlertTiming): string {
    const override = t.forOverrides[name];
    return formatDuration(override ?? scaleSeconds(DEFAULT_FOR_SECONDS[name], t.scale));
}
