import type {
  CompanyObjectType,
  CustomFieldDataType,
  Device,
  NumericType,
  PersonObjectType,
  SearchObjectType,
} from '../gong/body-schema.ts';

/**
 * A decoded canonical interaction event (schemas/interaction-event.v*.avsc), as avsc hands it over.
 * Nullable fields may also be missing and arrays may be absent, so events built by hand or decoded
 * with an older reader schema type-check too. Field names match Gong's body on purpose, so a
 * rejection path such as `content.numericContentDetails.rangeTo` names the same field in both.
 */
export interface InteractionEvent {
  eventId: string;
  /** timestamp-millis: a Date when avsc has a logical type registered for it, epoch ms otherwise. */
  timestamp: Date | number | bigint;
  eventType: string;
  sourceSystemName?: string | null;
  /** Added in v2; troubleshooting only, never sent to Gong. */
  sourceSystemVersion?: string | null;
  sessionId?: string | null;
  device?: Device | null;
  content: EventContent;
  person?: EventPerson | null;
  customFields?: readonly EventCustomField[];
  trackingId?: string | null;
}

export interface EventContent {
  contentId?: string | null;
  contentTitle: string;
  contentLabel?: readonly string[];
  contentUrl?: string | null;
  contentAdditionalInfoUrl?: string | null;
  numericContentDetails?: EventNumericContentDetails | null;
  stepContentDetails?: EventStepContentDetails | null;
  searchObjectDetails?: EventSearchObjectDetails | null;
  contentCustomFields?: readonly EventCustomField[];
}

export interface EventNumericContentDetails {
  value?: number | null;
  rangeFrom: number;
  rangeTo: number;
  numericType?: NumericType | null;
}

export interface EventStepContentDetails {
  value: string;
  availableSteps?: readonly string[];
}

export interface EventSearchObjectDetails {
  name: string;
  objectType: SearchObjectType;
  domain: string;
  objectId?: string | null;
  url?: string | null;
}

export interface EventPerson {
  name?: string | null;
  email?: string | null;
  phoneNumber?: string | null;
  personId?: string | null;
  personBusinessContext?: EventPersonBusinessContext | null;
  location?: EventLocation | null;
  company?: EventCompany | null;
  personCustomFields?: readonly EventCustomField[];
}

export interface EventPersonBusinessContext {
  objectType: PersonObjectType;
  objectId: string;
  systemName?: string | null;
}

export interface EventLocation {
  country?: string | null;
  state?: string | null;
  region?: string | null;
  city?: string | null;
}

export interface EventCompany {
  companyId?: string | null;
  name?: string | null;
  domain?: string | null;
  companyBusinessContexts?: readonly EventCompanyBusinessContext[];
}

export interface EventCompanyBusinessContext {
  objectType: CompanyObjectType;
  objectId: string;
  systemName?: string | null;
}

export interface EventCustomField {
  name: string;
  value: string;
  /** Defaults to STRING in the schema. */
  dataType?: CustomFieldDataType | null;
}
