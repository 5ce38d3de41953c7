// Recognises a failure to reach a host (DNS, refused connection, TLS, no answer) in the error shapes of fetch, the Azure SDKs and MSAL, and says which setting to check.
import { SyncError, type SyncErrorCode } from "./syncError";

/** The endpoint a request went to, and the setting an admin changes to point it elsewhere. */
export interface Endpoint {
  /** What the endpoint is, e.g. "Microsoft Graph". */
  service: string;
  url: string;
  /** The setting(s) that choose the URL, e.g. "GRAPH_ENDPOINT (or ENTRA_CLOUD)". */
  setting: string;
}

const dnsCodes = new Set(["ENOTFOUND", "EAI_AGAIN", "EAI_NONAME", "EAI_FAIL"]);
const refusedCodes = new Set(["ECONNREFUSED"]);
const unreachableCodes = new Set(["ETIMEDOUT", "ECONNRESET", "EHOSTUNREACH", "ENETUNREACH", "EPIPE", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_SOCKET", "UND_ERR_HEADERS_TIMEOUT"]);
const tlsCodes = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT", "SELF_SIGNED_CERT_IN_CHAIN", "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "UNABLE_TO_GET_ISSUER_CERT",
  "CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID", "CERT_UNTRUSTED", "CERT_REJECTED", "ERR_TLS_CERT_ALTNAME_INVALID", "EPROTO", "ERR_SSL_WRONG_VERSION_NUMBER",
]);

export type NetworkFailureKind = "dnsFailure" | "connectionRefused" | "tlsFailure" | "unreachable";

/** The system error code (ENOTFOUND, ECONNREFUSED, CERT_HAS_EXPIRED…) anywhere in the error, its causes or its message; undefined when it is not a network failure. */
export function networkFailureOf(error: unknown): { kind: NetworkFailureKind; systemCode: string } | undefined {
  const codes: string[] = [];
  const visit = (value: unknown, depth: number): void => {
    if (depth > 5 || value === null || typeof value !== "object") return;
    const code = (value as { code?: unknown }).code;
    if (typeof code === "string") codes.push(code);
    const message = (value as { message?: unknown }).message;
    if (typeof message === "string") codes.push(...(message.match(/\b(E[A-Z_]{3,}|[A-Z_]*CERT[A-Z_]*)\b/g) ?? []));
    visit((value as { cause?: unknown }).cause, depth + 1);
    const inner = (value as { errors?: unknown }).errors;
    if (Array.isArray(inner)) for (const item of inner) visit(item, depth + 1);
  };
  visit(error, 0);
  for (const code of codes) {
    if (dnsCodes.has(code)) return { kind: "dnsFailure", systemCode: code };
    if (refusedCodes.has(code)) return { kind: "connectionRefused", systemCode: code };
    if (tlsCodes.has(code) || /^ERR_SSL_|^ERR_TLS_/.test(code)) return { kind: "tlsFailure", systemCode: code };
    if (unreachableCodes.has(code)) return { kind: "unreachable", systemCode: code };
  }
  return undefined;
}

const codeOfKind: Record<NetworkFailureKind, SyncErrorCode> = {
  dnsFailure: "network.dnsFailure",
  connectionRefused: "network.connectionRefused",
  tlsFailure: "network.tlsFailure",
  unreachable: "network.unreachable",
};

/** One line naming the host, what went wrong and the setting to check; undefined when the error is not a network failure. */
export function explainNetworkFailure(error: unknown, endpoint: Endpoint): SyncError | undefined {
  const failure = networkFailureOf(error);
  if (!failure) return undefined;
  const url = new URL(endpoint.url);
  const host = url.host;
  const { systemCode } = failure;
  const message = {
    dnsFailure: `${endpoint.service} at ${host} could not be reached: the name ${url.hostname} does not resolve (${systemCode}).`,
    connectionRefused: `${endpoint.service} at ${host} could not be reached: the connection was refused (${systemCode}), nothing listens there.`,
    tlsFailure: `${endpoint.service} at ${host} could not be reached: the TLS handshake failed (${systemCode}), its certificate is not trusted or names another host.`,
    unreachable: `${endpoint.service} at ${host} could not be reached: no answer (${systemCode}).`,
  }[failure.kind];
  const fix = {
    dnsFailure: `Check ${endpoint.setting} for a typo, and that this machine's DNS resolves it (in Azure with VNet integration: the private DNS zone).`,
    connectionRefused: `Check ${endpoint.setting} (host and port) and that the service is running.`,
    tlsFailure: `Check ${endpoint.setting}; behind a TLS-inspecting proxy, trust its root certificate with NODE_EXTRA_CA_CERTS.`,
    unreachable: `Check that this machine may reach it (firewall, proxy, VNet, private endpoint), and ${endpoint.setting}.`,
  }[failure.kind];
  return new SyncError(codeOfKind[failure.kind], message, { fix, cause: error });
}
