import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import ajvDraft04 from 'ajv-draft-04';
import ajvFormats from 'ajv-formats';
import JSZip from 'jszip';
import { describe, expect, it } from 'vitest';
import { commandNames, commands } from '../../src/commands/registry.js';
import {
  MANIFEST_SCHEMA_URL,
  MANIFEST_VERSION,
  teamsAppId,
  teamsAppPackage,
  teamsManifest,
} from '../../src/teams/app-package.js';
import { decodePng } from '../support/png.js';

const BOT_ID = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
const options = { botId: BOT_ID, validDomains: ['bot.example.com'] };

// CommonJS packages whose `default` export is also their module object (the class, the plugin).
const Ajv = ajvDraft04.default;
const addFormats = ajvFormats.default;
let compiled: ReturnType<InstanceType<typeof Ajv>['compile']> | undefined;

/** The Teams manifest JSON schema of that version, as @microsoft/app-manifest ships it (draft-04). */
function validator() {
  if (compiled) return compiled;
  const require = createRequire(import.meta.url);
  const path = require.resolve(
    `@microsoft/app-manifest/build/json-schemas/teams/v${MANIFEST_VERSION}/MicrosoftTeams.schema.json`,
  );
  const schema = JSON.parse(readFileSync(path, 'utf8'));
  expect(schema.$schema).toBe('http://json-schema.org/draft-04/schema#');
  expect(schema.properties.manifestVersion.const).toBe(MANIFEST_VERSION);
  const ajv = new Ajv({ allErrors: true, strictTypes: false });
  addFormats(ajv, ['uri', 'email', 'regex']);
  compiled = ajv.compile(schema);
  return compiled;
}

function assertValidManifest(manifest: unknown): void {
  const validate = validator();
  const ok = validate(manifest);
  expect(validate.errors ?? []).toEqual([]);
  expect(ok).toBe(true);
}

describe('teamsManifest', () => {
  it('validates against the Teams manifest JSON schema', () => {
    const manifest = teamsManifest(options);
    expect(manifest.$schema).toBe(MANIFEST_SCHEMA_URL);
    expect(manifest.manifestVersion).toBe(MANIFEST_VERSION);
    assertValidManifest(manifest);
  });

  it('is checked for real: the schema refuses a manifest with a wrong field', () => {
    const validate = validator();
    const manifest = teamsManifest(options);
    expect(validate({ ...manifest, bots: [{ ...manifest.bots[0], scopes: ['everywhere'] }] })).toBe(false);
    expect(validate({ ...manifest, id: 'not-a-guid' })).toBe(false);
    expect(validate({ ...manifest, unknownField: true })).toBe(false);
  });

  it('has one bot in the three scopes, no files, conversational, and the registry’s commands in each scope', () => {
    const manifest = teamsManifest(options);
    expect(manifest.bots).toHaveLength(1);
    const bot = manifest.bots[0];
    expect(bot).toMatchObject({ botId: BOT_ID, supportsFiles: false, isNotificationOnly: false });
    expect(bot?.scopes).toEqual(['personal', 'team', 'groupChat']);
    expect(bot?.commandLists.map((l) => l.scopes)).toEqual([['personal'], ['team'], ['groupChat']]);
    // at most 10 (the schema's maxItems): every command but unmute
    const expected = commandNames
      .filter((name) => name !== 'unmute')
      .map((name) => ({ title: name, description: commands[name].help }));
    expect(expected).toHaveLength(10);
    for (const list of bot?.commandLists ?? []) expect(list.commands).toEqual(expected);
    expect(manifest.validDomains).toEqual(['bot.example.com']);
    expect(manifest).not.toHaveProperty('webApplicationInfo');
  });

  it('derives a stable app id from the bot id (UUID v5), distinct from it', () => {
    const id = teamsManifest(options).id;
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(id).not.toBe(BOT_ID);
    expect(teamsManifest({ ...options, botId: BOT_ID.toUpperCase() }).id).toBe(id);
    expect(teamsAppId('00000000-0000-0000-0000-000000000001')).not.toBe(id);
  });

  it('keeps a hostile name within the schema, as data', () => {
    const name = `"}<script>alert(1)</script>\n\u0000${'x'.repeat(200)} 😀`;
    const manifest = teamsManifest({ ...options, name, version: '2.3.4-beta.1' });
    assertValidManifest(manifest);
    expect(manifest.name.short.length).toBeLessThanOrEqual(30);
    expect(manifest.name.full.length).toBeLessThanOrEqual(100);
    expect(manifest.name.short.startsWith('"}<script>alert(1)</script> ')).toBe(true);
    expect([...manifest.name.full].some((ch) => (ch.codePointAt(0) ?? 0) < 0x20)).toBe(false);
    expect(JSON.parse(JSON.stringify(manifest))).toEqual(manifest);
  });

  it('answers bad input with a sentence', () => {
    expect(() => teamsManifest({ ...options, botId: 'my-bot' })).toThrow(
      /bot id must be the Microsoft App ID/,
    );
    expect(() => teamsManifest({ ...options, validDomains: ['https://bot.example.com/api'] })).toThrow(
      /is not a host name/,
    );
    expect(() => teamsManifest({ ...options, validDomains: [] })).toThrow(/at least one valid domain/);
    expect(() =>
      teamsManifest({ ...options, validDomains: Array.from({ length: 17 }, (_, i) => `h${i}.example.com`) }),
    ).toThrow(/at most 16 valid domains/);
    expect(() => teamsManifest({ ...options, version: 'v1' })).toThrow(/semantic version/);
    expect(() =>
      teamsManifest({
        ...options,
        developer: {
          name: 'x',
          websiteUrl: 'http://a.example',
          privacyUrl: 'https://a.example/',
          termsOfUseUrl: 'https://a.example/',
        },
      }),
    ).toThrow(/websiteUrl must be an https URL/);
  });

  it('accepts wildcard domains beside the bot host', () => {
    assertValidManifest(
      teamsManifest({ ...options, validDomains: ['bot.example.com', '*.example.org', 'BOT.example.com'] }),
    );
    expect(
      teamsManifest({ ...options, validDomains: ['bot.example.com', 'BOT.example.com'] }).validDomains,
    ).toEqual(['bot.example.com']);
  });
});

describe('teamsAppPackage', () => {
  it('zips exactly the manifest and the two icons, the icons at their sizes', async () => {
    const zip = await JSZip.loadAsync(await teamsAppPackage(options));
    expect(Object.keys(zip.files).sort()).toEqual(['color.png', 'manifest.json', 'outline.png']);
    const manifest = JSON.parse((await zip.file('manifest.json')?.async('string')) ?? '');
    expect(manifest).toEqual(teamsManifest(options));
    assertValidManifest(manifest);
    const color = decodePng((await zip.file('color.png')?.async('uint8array')) ?? new Uint8Array());
    expect([color.width, color.height]).toEqual([192, 192]);
    const outline = decodePng((await zip.file('outline.png')?.async('uint8array')) ?? new Uint8Array());
    expect([outline.width, outline.height]).toEqual([32, 32]);
  });

  it('draws the outline icon in white only on a transparent background', async () => {
    const zip = await JSZip.loadAsync(await teamsAppPackage(options));
    const outline = decodePng((await zip.file('outline.png')?.async('uint8array')) ?? new Uint8Array());
    const px = outline.rgba;
    let opaque = 0;
    let clear = 0;
    for (let i = 0; i < (px?.length ?? 0); i += 4) {
      const [r, g, b, a] = [px?.[i], px?.[i + 1], px?.[i + 2], px?.[i + 3]];
      if (a === 0) clear++;
      else {
        opaque++;
        expect([r, g, b]).toEqual([255, 255, 255]);
      }
    }
    expect(opaque).toBeGreaterThan(20);
    expect(clear).toBeGreaterThan(500);
  });

  it('gives the same bytes for the same input', async () => {
    expect((await teamsAppPackage(options)).equals(await teamsAppPackage(options))).toBe(true);
  });
});
