// Search attributes let Temporal's own tools (CLI, UI) list Mandate processes.
// Registered on the dev server at start and on a remote namespace by the launcher.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const MandateContract = defineSearchAttributeKey('MandateContract', SearchAttributeType.KEYWORD);
export const MandateClient = defineSearchAttributeKey('MandateClient', SearchAttributeType.KEYWORD);
export const MandateProcess = defineSearchAttributeKey('MandateProcess', SearchAttributeType.KEYWORD);
export const MandateStatus = defineSearchAttributeKey('MandateStatus', SearchAttributeType.KEYWORD);

/** name → type, as `temporal server start-dev --search-attribute name=Keyword` wants it. */
export const SEARCH_ATTRIBUTES: Readonly<Record<string, 'Keyword'>> = Object.freeze({
  MandateContract: 'Keyword',
  MandateClient: 'Keyword',
  MandateProcess: 'Keyword',
  MandateStatus: 'Keyword',
});
