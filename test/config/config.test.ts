import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, defaultConfigPath, loadConfig } from '../../src/config/load';

function writeConfig(mutate: (raw: Record<string, any>) => void): string { // eslint-disable-line @typescript-eslint/no-explicit-any -- test edits arbitrary JSON
  const raw = JSON.parse(fs.readFileSync(defaultConfigPath, 'utf8'));
  mutate(raw);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'daybreak-cfg-')), 'daybreak.json');
  fs.writeFileSync(file, JSON.stringify(raw));
  return file;
}

describe('configuration', () => {
  test('the shipped defaults load, with the national newsletter as the issue describes it', () => {
    const config = loadConfig({ env: {} });
    const national = config.newsletters.find((n) => n.id === 'national');
    expect(national).toMatchObject({ name: 'National', cron: '0 6 * * 1-5', timezone: 'Europe/London', maxArticles: 12 });
    expect(national?.subject).toContain('{{date}}');
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(config.secret.length).toBeGreaterThanOrEqual(16);
  });

  test('environment variables override the file', () => {
    const config = loadConfig({ env: { REDIS_URL: 'redis://10.0.0.5:6380', SMTP_URL: 'smtp://relay.example:587', PUBLIC_URL: 'https://news.example', PORT: '8080', DAYBREAK_SECRET: 's'.repeat(32) } });
    expect(config).toMatchObject({ redisUrl: 'redis://10.0.0.5:6380', smtpUrl: 'smtp://relay.example:587', publicUrl: 'https://news.example', port: 8080, secret: 's'.repeat(32) });
  });

  test('DAYBREAK_CONFIG points at another file', () => {
    const file = writeConfig((raw) => { raw.newsletters[0].name = 'Morning Briefing'; });
    expect(loadConfig({ env: { DAYBREAK_CONFIG: file } }).newsletters[0].name).toBe('Morning Briefing');
  });

  test.each([
    ['a bad cron expression', (raw: Record<string, any>) => { raw.newsletters[0].cron = '61 6 * * *'; }, 'newsletters.0.cron: not a valid cron expression'], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['an unknown time zone', (raw: Record<string, any>) => { raw.newsletters[0].timezone = 'Europe/Londn'; }, 'newsletters.0.timezone: not a known IANA time zone'], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['a duplicate newsletter id', (raw: Record<string, any>) => { raw.newsletters.push({ ...raw.newsletters[0] }); }, 'duplicate newsletter id "national"'], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['a typo in a field name', (raw: Record<string, any>) => { raw.newsletters[0].maxArticle = 5; }, 'maxArticle'], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['a max articles of zero', (raw: Record<string, any>) => { raw.newsletters[0].maxArticles = 0; }, 'newsletters.0.maxArticles'], // eslint-disable-line @typescript-eslint/no-explicit-any
  ])('%s stops the program with a message naming the field', (_what, mutate, expected) => {
    const file = writeConfig(mutate);
    expect(() => loadConfig({ env: { DAYBREAK_CONFIG: file } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { DAYBREAK_CONFIG: file } })).toThrow(expected);
  });

  test('bad environment values are named too', () => {
    expect(() => loadConfig({ env: { REDIS_URL: 'localhost:6379' } })).toThrow(/redisUrl: must start with redis:\/\//);
    expect(() => loadConfig({ env: { PORT: 'eighty' } })).toThrow(/port/);
    expect(() => loadConfig({ env: { DAYBREAK_SECRET: 'short' } })).toThrow(/secret: must be at least 16 characters/);
  });

  test('production refuses to run without a secret', () => {
    expect(() => loadConfig({ env: { NODE_ENV: 'production' } })).toThrow(/DAYBREAK_SECRET must be set/);
  });

  test('a missing or malformed file says which file', () => {
    expect(() => loadConfig({ env: { DAYBREAK_CONFIG: '/nonexistent/daybreak.json' } })).toThrow('Cannot read configuration /nonexistent/daybreak.json: file not found');
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'daybreak-cfg-')), 'bad.json');
    fs.writeFileSync(file, '{ "newsletters": [ ');
    expect(() => loadConfig({ env: { DAYBREAK_CONFIG: file } })).toThrow(`Cannot read configuration ${file}`);
  });
});
