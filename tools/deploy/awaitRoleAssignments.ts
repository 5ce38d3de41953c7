// azd predeploy hook: on a first deploy, waits until the identity's new role assignments are old enough to have taken effect.
import { AzureDeveloperCliCredential, type TokenCredential } from "@azure/identity";

// Azure RBAC changes usually take effect within minutes; Microsoft's RBAC troubleshooting guide allows up to 10.
const defaultSettleSeconds = 300;
const roleAssignmentsApiVersion = "2022-04-01";

export interface RoleAssignmentAge {
  roleDefinitionId: string;
  createdOn: Date;
}

/** How long to wait so the youngest assignment is `settleSeconds` old; 0 when all are older or there are none. */
export function remainingSettleMs(assignments: readonly RoleAssignmentAge[], now: Date, settleSeconds: number): number {
  const youngest = Math.max(...assignments.map((assignment) => assignment.createdOn.getTime()), Number.NEGATIVE_INFINITY);
  if (!Number.isFinite(youngest)) return 0;
  return Math.max(0, youngest + settleSeconds * 1000 - now.getTime());
}

export interface ListRoleAssignmentsOptions {
  credential: TokenCredential;
  fetch: typeof fetch;
  resourceManagerEndpoint: string;
}

/** Every role assignment of the principal at, above or below the resource group, with its creation time. */
export async function listRoleAssignments(scope: { subscriptionId: string; resourceGroup: string; principalId: string }, options: ListRoleAssignmentsOptions): Promise<RoleAssignmentAge[]> {
  const endpoint = options.resourceManagerEndpoint.replace(/\/$/, "");
  const token = await options.credential.getToken(`${endpoint}/.default`);
  if (!token) throw new Error(`no token for ${endpoint}`);
  const filter = encodeURIComponent(`principalId eq '${scope.principalId}'`);
  let url: string | undefined = `${endpoint}/subscriptions/${scope.subscriptionId}/resourceGroups/${scope.resourceGroup}/providers/Microsoft.Authorization/roleAssignments?api-version=${roleAssignmentsApiVersion}&$filter=${filter}`;
  const assignments: RoleAssignmentAge[] = [];
  while (url) {
    const response = await options.fetch(url, { headers: { authorization: `Bearer ${token.token}` } });
    if (!response.ok) throw new Error(`GET role assignments answered ${response.status}: ${(await response.text()).slice(0, 300)}`);
    const page = (await response.json()) as { value?: { properties?: { roleDefinitionId?: string; createdOn?: string } }[]; nextLink?: string };
    for (const assignment of page.value ?? []) {
      const createdOn = assignment.properties?.createdOn ? new Date(assignment.properties.createdOn) : undefined;
      if (createdOn && !Number.isNaN(createdOn.getTime())) assignments.push({ roleDefinitionId: assignment.properties?.roleDefinitionId ?? "", createdOn });
    }
    url = page.nextLink;
  }
  return assignments;
}

export interface AwaitRoleAssignmentsOptions {
  environment: Record<string, string | undefined>;
  credential: TokenCredential;
  fetch: typeof fetch;
  now: () => Date;
  sleep: (ms: number) => Promise<void>;
  log: (line: string) => void;
}

/** Never fails the deploy: when it cannot tell, it says so and lets azd go on (a 403 then means: wait and run azd deploy again). */
export async function awaitRoleAssignments(options: AwaitRoleAssignmentsOptions): Promise<{ waitedMs: number }> {
  const { environment, log } = options;
  const settleSeconds = Number(environment["ROLE_ASSIGNMENT_SETTLE_SECONDS"] ?? defaultSettleSeconds);
  if (!Number.isFinite(settleSeconds) || settleSeconds <= 0) return { waitedMs: 0 };
  const subscriptionId = environment["AZURE_SUBSCRIPTION_ID"];
  const resourceGroup = environment["AZURE_RESOURCE_GROUP"];
  const principalId = environment["MANAGED_IDENTITY_PRINCIPAL_ID"];
  if (!subscriptionId || !resourceGroup || !principalId) {
    log("Role assignment check skipped: run azd provision first (AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP or MANAGED_IDENTITY_PRINCIPAL_ID is not set).");
    return { waitedMs: 0 };
  }
  try {
    const assignments = await listRoleAssignments(
      { subscriptionId, resourceGroup, principalId },
      { credential: options.credential, fetch: options.fetch, resourceManagerEndpoint: environment["AZURE_RESOURCE_MANAGER_ENDPOINT"] ?? "https://management.azure.com" },
    );
    const waitMs = remainingSettleMs(assignments, options.now(), settleSeconds);
    if (waitMs === 0) return { waitedMs: 0 };
    log(`The managed identity's role assignments were created moments ago; waiting ${Math.ceil(waitMs / 1000)} s for them to take effect before deploying (ROLE_ASSIGNMENT_SETTLE_SECONDS=0 skips this).`);
    await options.sleep(waitMs);
    return { waitedMs: waitMs };
  } catch (error) {
    log(`Role assignment check skipped (${(error as Error).message}). If the deploy fails with 403, wait a few minutes and run azd deploy again.`);
    return { waitedMs: 0 };
  }
}

if (require.main === module) {
  void awaitRoleAssignments({
    environment: process.env,
    credential: new AzureDeveloperCliCredential(),
    fetch,
    now: () => new Date(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    log: (line) => console.log(line),
  });
}
