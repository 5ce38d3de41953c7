// The Graph stand-in's public surface: certificate, directory model and the HTTPS server.
export { ensureStandInCertificate, type StandInCertificate } from "./certificate";
export {
  DirectoryModel,
  isMembershipChange,
  type ChangeRecord,
  type ChurnResult,
  type GenerateOptions,
  type MemberType,
  type ModelGroup,
  type ModelUser,
  type OtherObjectType,
} from "./directoryModel";
export {
  GraphStandIn,
  resourceUnitCost,
  type ExpiredTokenStyle,
  type RecordedRequest,
  type StandInFaults,
  type StandInOptions,
} from "./graphStandIn";
export type { ClientAssertionRecord, RegisteredClient } from "./tokenIssuer";
export { DeviceCodeGrant, deviceCodeGrantTypes, knownPublicClients, type DeviceAuthorization, type DeviceSignIn } from "./deviceCodeGrant";
export { SubscriptionService, maxSubscriptionMinutes, type LifecycleEvent, type NotificationDelivery, type StandInSubscription } from "./subscriptionService";
export type { SoftDeletedMembership, UpdatedObjectProperties } from "./deltaQueryEngine";
export { KeyVaultStandIn, type KeyVaultStandInOptions, type SecretWriteOptions, type VaultRequest } from "./keyVaultStandIn";
export { ManagedIdentityStandIn, tokenExchangeAudiences, type IdentityRequest, type ManagedIdentity, type ManagedIdentityStandInOptions } from "./managedIdentityStandIn";
export { keyVaultAudiences, storageAudiences, type FederatedIdentityCredential, type TokenSubject } from "./tokenIssuer";
