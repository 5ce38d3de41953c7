// A Table service endpoint that answers Query Entities for a generated tenant from SyncedStoreRows, page by page, holding no rows: export at a million memberships without Azurite re-sorting the table for every page.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { directoryTableNames } from "../src/store/tableNames";
import { SyncedStoreRows, type SyncedRow } from "../standin/syncedStore";

/** A query page holds at most 1,000 entities (Table service, Query Entities). */
const maxPageSize = 1000;
/** Azurite's documented development account; the key is public and only checked by emulators. */
const account = "devstoreaccount1";
const accountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface GeneratedTableService {
  connectionString: string;
  stop(): Promise<void>;
}

export async function startGeneratedTableService(rows: SyncedStoreRows, prefix: string): Promise<GeneratedTableService> {
  const names = directoryTableNames(prefix);
  const tables = new Map<string, { count: number; row: (index: number) => SyncedRow }>([
    [names.users, { count: rows.options.users, row: (index) => rows.user(index) }],
    [names.groups, { count: rows.groupIds.length, row: (index) => rows.group(index) }],
    [names.devices, { count: 0, row: () => ({ partitionKey: "", rowKey: "", properties: {} }) }],
    [names.members, { count: rows.memberships, row: (index) => rows.membership(index).member }],
    [names.memberGroupsOverflow, { count: 0, row: () => ({ partitionKey: "", rowKey: "", properties: {} }) }],
  ]);
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    const match = /^\/[^/]+\/([A-Za-z0-9]+)\(\)$/.exec(url.pathname);
    const table = match ? tables.get(match[1]!) : undefined;
    if (request.method !== "GET" || !table) {
      response.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ "odata.error": { code: "ResourceNotFound", message: { value: `${request.method} ${url.pathname}` } } }));
      return;
    }
    // The continuation is the next row's index, carried in NextPartitionKey as the service would carry a key.
    const start = Number(url.searchParams.get("NextPartitionKey") ?? "0");
    const top = Math.min(maxPageSize, Number(url.searchParams.get("$top") ?? maxPageSize));
    const end = Math.min(table.count, start + top);
    const value: Record<string, unknown>[] = [];
    for (let index = start; index < end; index++) {
      const { partitionKey, rowKey, properties } = table.row(index);
      const entity: Record<string, unknown> = { "odata.etag": `W/"datetime'2026-12-01T00%3A00%3A00Z'"`, PartitionKey: partitionKey, RowKey: rowKey, Timestamp: "2026-12-01T00:00:00.0000000Z" };
      for (const [name, property] of Object.entries(properties)) if (property !== undefined && property !== null) entity[name] = property;
      value.push(entity);
    }
    const headers: Record<string, string> = { "content-type": "application/json;odata=minimalmetadata;streaming=true;charset=utf-8", "x-ms-version": "2019-02-02" };
    if (end < table.count) Object.assign(headers, { "x-ms-continuation-NextPartitionKey": String(end), "x-ms-continuation-NextRowKey": "next" });
    response.writeHead(200, headers).end(JSON.stringify({ "odata.metadata": `http://localhost/${account}/$metadata#${match![1]}`, value }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${account};AccountKey=${accountKey};TableEndpoint=http://127.0.0.1:${port}/${account};`,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
