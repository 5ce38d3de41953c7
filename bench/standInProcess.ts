// Hosts the Graph stand-in in its own process, so the benchmark measures the engine's memory and CPU, not the stand-in's.
import { DirectoryModel } from "../standin/directoryModel";
import { GraphStandIn } from "../standin/graphStandIn";
import { diffRows, expectedRows } from "../standin/expectedStore";
import { standInCertDir } from "../standin/trustedRelaunch";

export type StandInCommand =
  | { type: "start"; users: number; groups: number; seed: number; latencyMs: number; membershipsPerUser: number }
  | { type: "churn"; fraction: number; seed: number }
  | { type: "quota"; quota: "documented" | number | undefined }
  | { type: "stats" }
  /** Remembers the store the model implies now; "expected-diff" then counts rows changed since. */
  | { type: "expected-snapshot" }
  | { type: "expected-diff" }
  | { type: "stop" };

let standIn: GraphStandIn | undefined;
let expectedBefore: Map<string, string> | undefined;

async function handle(command: StandInCommand): Promise<unknown> {
  switch (command.type) {
    case "start": {
      const started = Date.now();
      const model = DirectoryModel.generate({ seed: command.seed, users: command.users, groups: command.groups, membershipsPerUser: command.membershipsPerUser });
      const generatedMs = Date.now() - started;
      standIn = await GraphStandIn.start({ certDir: standInCertDir, model });
      standIn.faults.latencyMs = command.latencyMs;
      let memberships = 0;
      for (const members of model.members.values()) memberships += members.size;
      return { url: standIn.url, tenantId: standIn.tenantId, users: model.users.size, groups: model.groups.size, memberships, generatedMs };
    }
    case "churn":
      return standIn!.model.applyChurn(command.fraction, command.seed);
    case "quota":
      standIn!.faults.enforceQuota(command.quota);
      return {};
    case "expected-snapshot":
      expectedBefore = expectedRows(standIn!.model);
      return { rows: expectedBefore.size };
    case "expected-diff":
      return diffRows(expectedBefore!, expectedRows(standIn!.model));
    case "stats":
      return { requests: standIn!.graphRequestCount() };
    case "stop":
      await standIn?.stop();
      setImmediate(() => process.exit(0));
      return {};
  }
}

process.on("message", (message: { id: number; command: StandInCommand }) => {
  handle(message.command).then(
    (result) => process.send?.({ id: message.id, result }),
    (error: unknown) => process.send?.({ id: message.id, error: error instanceof Error ? error.message : String(error) }),
  );
});
