// Translation: every string people read goes through JupyterLab's ITranslator, in the domain
// `jupyter_fujita` (a language pack provides `locale/<lang>/LC_MESSAGES/jupyter_fujita.json`).
// Views take the bundle in their options; without one they speak English.
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';

export const DOMAIN = 'jupyter_fujita';

export type Trans = TranslationBundle;

/** The English bundle, for views made without a translator. */
export function englishTrans(): Trans {
  return nullTranslator.load(DOMAIN);
}
