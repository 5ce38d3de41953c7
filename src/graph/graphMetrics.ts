// Counts what a run costs Microsoft Graph: requests, throttled answers and their documented resource units.

export interface GraphMetrics {
  requests: number;
  throttled: number;
  retries: number;
  waitedMs: number;
  resourceUnits: number;
}

export function emptyGraphMetrics(): GraphMetrics {
  return { requests: 0, throttled: 0, retries: 0, waitedMs: 0, resourceUnits: 0 };
}

/** Resource-unit cost of a request (Graph throttling limits, identity and access): GET users 2, other GETs 1; $select takes 1 off, never below 1. */
export function resourceUnitCost(url: string): number {
  const path = new URL(url).pathname;
  const base = /\/users(\/delta)?$/.test(path) ? 2 : /\/members$/.test(path) ? 3 : 1;
  const selected = url.includes("%24select=") || url.includes("$select=");
  return Math.max(1, selected ? base - 1 : base);
}
