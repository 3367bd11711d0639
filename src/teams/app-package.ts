import { createHash } from 'node:crypto';
import { Resvg } from '@resvg/resvg-js';
import JSZip from 'jszip';
import { commandNames, commands } from '../commands/registry.js';

/**
 * The Teams app package: a zip of `manifest.json` and its two icons, which an admin uploads in the
 * Teams admin center or a user with "Upload a custom app" (learn.microsoft.com, "Teams app
 * package": "app manifest, color icon, outline icon"). The manifest follows schema 1.23, the
 * current version on the app manifest reference page ("App manifest", resources/schema/
 * manifest-schema: "the current version is 1.23"); @microsoft/app-manifest ships its JSON schema,
 * which the tests validate against.
 */

export const MANIFEST_VERSION = '1.23';
export const MANIFEST_SCHEMA_URL = `https://developer.microsoft.com/json-schemas/teams/v${MANIFEST_VERSION}/MicrosoftTeams.schema.json`;

/** The schema's limits (v1.23 MicrosoftTeams.schema.json), checked here so bad input gets a sentence. */
export const MANIFEST_LIMITS = {
  shortName: 30,
  fullName: 100,
  shortDescription: 80,
  fullDescription: 4000,
  developerName: 32,
  validDomains: 16,
  domain: 2048,
  commands: 10,
  commandTitle: 128,
  commandDescription: 4000,
  version: 256,
} as const;

/** Icon sizes (app manifest reference, root.icons): color 192×192; outline 32×32, transparent, white. */
export const ICON_SIZES = { color: 192, outline: 32 } as const;

export interface TeamsPackageOptions {
  /** The bot's Microsoft App ID (the Entra app registration's client id), a GUID. */
  botId: string;
  /** Display name; default "Crypto Risk". */
  name?: string;
  /** Host names the app loads from or links to, e.g. `bot.example.com` (no scheme, no path; `*.` allowed). */
  validDomains: string[];
  /** The app package's version (semver); default 1.0.0. Raise it for each upload of a changed manifest. */
  version?: string;
  /** The developer block; default: the name "Crypto Risk" and https://<first valid domain>/ for all three pages. */
  developer?: { name: string; websiteUrl: string; privacyUrl: string; termsOfUseUrl: string };
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// semver.org's suggested pattern.
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;
const DOMAIN =
  /^(\*\.)?([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*(:\d{1,5})?$/i;

/**
 * A fixed namespace for the app id. The app id is a UUID v5 (RFC 9562) of the bot id in it:
 * stable, so uploading a new package of the same bot updates the app instead of adding a second
 * one, and still distinct from the bot id (the Entra app), which is another object.
 */
const APP_ID_NAMESPACE = '8f3c1f4e-54a4-4f0e-9d59-3a1f0e6b7c21';

export function teamsAppId(botId: string): string {
  const ns = Buffer.from(APP_ID_NAMESPACE.replaceAll('-', ''), 'hex');
  const hash = createHash('sha1').update(ns).update(botId.toLowerCase()).digest();
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x50;
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export type TeamsManifest = ReturnType<typeof teamsManifest>;

export function teamsManifest(options: TeamsPackageOptions) {
  const botId = options.botId.trim();
  if (!GUID.test(botId)) {
    throw new RangeError(
      'The bot id must be the Microsoft App ID of the bot registration, a GUID like 00000000-0000-0000-0000-000000000000.',
    );
  }
  const domains = [...new Set(options.validDomains.map((d) => d.trim().toLowerCase()).filter(Boolean))];
  for (const domain of domains) {
    if (domain.length > MANIFEST_LIMITS.domain || !DOMAIN.test(domain)) {
      throw new RangeError(
        `"${printable(domain)}" is not a host name: give a domain like bot.example.com, without https:// or a path.`,
      );
    }
  }
  if (domains.length > MANIFEST_LIMITS.validDomains) {
    throw new RangeError(
      `A Teams app allows at most ${MANIFEST_LIMITS.validDomains} valid domains, got ${domains.length}.`,
    );
  }
  const version = (options.version ?? '1.0.0').trim();
  if (version.length > MANIFEST_LIMITS.version || !SEMVER.test(version)) {
    throw new RangeError(
      `The app version must be a semantic version like 1.0.0, got "${printable(version)}".`,
    );
  }
  const name = oneLine(options.name ?? '') || 'Crypto Risk';
  const developer = options.developer ?? defaultDeveloper(domains);
  for (const [key, url] of Object.entries(developer).filter(([key]) => key !== 'name')) {
    if (!/^https:\/\/[^\s]+$/i.test(url) || !URL.canParse(url)) {
      throw new RangeError(`The developer's ${key} must be an https URL, got "${printable(url)}".`);
    }
  }

  // The manifest lists at most 10 commands; `unmute` is the one left out (help lists it, and a
  // silence's answer names it), so every other command is offered in the compose box.
  const listed = commandNames.filter((name) => name !== 'unmute');
  if (listed.length > MANIFEST_LIMITS.commands)
    throw new Error(
      `the Teams manifest lists at most ${MANIFEST_LIMITS.commands} commands; choose which to leave out`,
    );
  const list = listed.map((command) => ({
    title: cut(command, MANIFEST_LIMITS.commandTitle),
    description: cut(commands[command].help, MANIFEST_LIMITS.commandDescription),
  }));
  return {
    $schema: MANIFEST_SCHEMA_URL,
    manifestVersion: MANIFEST_VERSION,
    version,
    id: teamsAppId(botId),
    developer: {
      name: cut(oneLine(developer.name) || name, MANIFEST_LIMITS.developerName),
      websiteUrl: developer.websiteUrl,
      privacyUrl: developer.privacyUrl,
      termsOfUseUrl: developer.termsOfUseUrl,
    },
    name: { short: cut(name, MANIFEST_LIMITS.shortName), full: cut(name, MANIFEST_LIMITS.fullName) },
    description: {
      short: 'Crypto market anomaly alerts and pipeline status',
      full:
        'Posts anomalies that the isolation-forest model finds in crypto market windows, answers commands ' +
        `(${commandNames.join(', ')}) with cards and charts, and lets the ops team retrain the model.`,
    },
    icons: { color: 'color.png', outline: 'outline.png' },
    accentColor: '#1F4E79',
    bots: [
      {
        botId,
        scopes: ['personal', 'team', 'groupChat'] as Array<'personal' | 'team' | 'groupChat'>,
        // One list per scope, as the schema's description asks ("a separate command list should be
        // used for each scope"); the same commands everywhere.
        commandLists: (['personal', 'team', 'groupChat'] as const).map((scope) => ({
          scopes: [scope],
          commands: list,
        })),
        supportsFiles: false,
        isNotificationOnly: false,
      },
    ],
    // No webApplicationInfo: the bot has no tab or SSO; Graph calls use the bot's own app token.
    validDomains: domains,
  };
}

/** The app package: manifest.json, color.png and outline.png, with fixed dates (the same input gives the same bytes). */
export async function teamsAppPackage(options: TeamsPackageOptions): Promise<Buffer> {
  const manifest = teamsManifest(options);
  const zip = new JSZip();
  const date = new Date('2025-01-01T00:00:00.000Z');
  zip.file('manifest.json', `${JSON.stringify(manifest, null, 2)}\n`, { date });
  zip.file('color.png', iconPng(colorIconSvg(), ICON_SIZES.color), { date });
  zip.file('outline.png', iconPng(outlineIconSvg(), ICON_SIZES.outline), { date });
  return zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE', platform: 'UNIX' });
}

/** A price line with one anomalous point on the app's accent color (drawn, no text: no font needed). */
export function colorIconSvg(): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="192" height="192" viewBox="0 0 192 192">
  <rect width="192" height="192" rx="36" fill="#1F4E79"/>
  <polyline points="28,128 60,104 88,116 116,72 140,88 164,48" fill="none" stroke="#FFFFFF" stroke-width="12" stroke-linecap="round" stroke-linejoin="round"/>
  <circle cx="116" cy="72" r="14" fill="#E5484D" stroke="#FFFFFF" stroke-width="6"/>
  <line x1="28" y1="156" x2="164" y2="156" stroke="#9DB8D3" stroke-width="6" stroke-linecap="round"/>
</svg>`;
}

/** The same mark in white on a transparent background, as Teams asks for the outline icon. */
export function outlineIconSvg(): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32" viewBox="0 0 32 32">
  <polyline points="3,23 9,18 14,20 19,11 23,14 29,6" fill="none" stroke="#FFFFFF" stroke-width="2.5" stroke-linecap="round" stroke-linejoin="round"/>
  <circle cx="19" cy="11" r="3" fill="#FFFFFF"/>
  <line x1="3" y1="28" x2="29" y2="28" stroke="#FFFFFF" stroke-width="2" stroke-linecap="round"/>
</svg>`;
}

function iconPng(svg: string, size: number): Buffer {
  const resvg = new Resvg(svg, { fitTo: { mode: 'width', value: size }, font: { loadSystemFonts: false } });
  return resvg.render().asPng();
}

function defaultDeveloper(domains: string[]): NonNullable<TeamsPackageOptions['developer']> {
  const host = domains.find((d) => !d.startsWith('*.'));
  if (!host) {
    throw new RangeError(
      'Give at least one valid domain without a wildcard (the bot host): the developer pages default to it.',
    );
  }
  const site = `https://${host}/`;
  return { name: 'Crypto Risk', websiteUrl: site, privacyUrl: site, termsOfUseUrl: site };
}

function oneLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
  const controls = /[\u0000-\u001f\u007f]+/g;
  return text.replace(controls, ' ').replace(/\s+/g, ' ').trim();
}

/** At most `max` UTF-16 units (the schema's maxLength counts code points; never fewer), ending with `…` when cut. */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 1;
  // Never split a surrogate pair.
  if (/[\ud800-\udbff]/.test(text.charAt(end - 1))) end--;
  return `${text.slice(0, end).trimEnd()}…`;
}

/** For error messages: short, one line. */
function printable(text: string): string {
  return cut(oneLine(text), 80);
}
