// The reader library consuming applications import as `entra-table-sync/reader`: typed reads of the synced directory, nothing of the engine.
export { DirectoryReader } from "./directoryReader";
export type { DirectoryReaderOptions, IsMemberOptions, ListGroupMembersOptions, ListUserGroupsOptions, ListUsersOptions, ReadChangesOptions } from "./directoryReader";
export { InvalidReaderInputError, ReaderError, StoreSchemaError, type ReaderErrorCode } from "./readerErrors";
export { memberTypes } from "./readerTypes";
export type { ChangeKind, DeletedReason, DirectoryChange, DirectoryGroup, DirectoryUser, GroupKind, GroupMember, GroupMembership, MemberType, Page, SyncRunInfo } from "./readerTypes";
export { lookupDigest } from "../store/userLookupKeys";
