// The environment is read once at start: defaults, and a bad value names its variable.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../config/app-config';

describe('loadConfig', () => {
  it('when nothing is set, then the defaults apply', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      PORT: 8080,
      MANDATE_ROLE: 'all',
      MANDATE_DATA_DIR: './.mandate',
      TEMPORAL_NAMESPACE: 'default',
      MANDATE_TASK_QUEUE: 'mandate-engine',
      MANDATE_TEMPORAL_PORT: 7233,
      MANDATE_TEMPORAL_UI_PORT: 8233,
      MANDATE_ENGINE_CONFIG: 'examples/engine.yaml',
      MANDATE_LOAD_EXAMPLES: true,
      LOG_LEVEL: 'info',
    });
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.TEMPORAL_ADDRESS).toBeUndefined();
    expect(config.MANDATE_WORKER_METRICS_ADDRESS).toBeUndefined();
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('when values are given, then they are parsed; an empty value means unset', () => {
    const config = loadConfig({
      PORT: '9000',
      DATABASE_URL: 'postgres://u:p@db:5432/mandate',
      TEMPORAL_ADDRESS: 'temporal:7233',
      MANDATE_LOAD_EXAMPLES: 'no',
      MANDATE_WORKER_METRICS_ADDRESS: '0.0.0.0:9464',
      MANDATE_CODEC_KEYS: '',
    });
    expect(config).toMatchObject({ PORT: 9000, DATABASE_URL: 'postgres://u:p@db:5432/mandate', TEMPORAL_ADDRESS: 'temporal:7233', MANDATE_LOAD_EXAMPLES: false, MANDATE_WORKER_METRICS_ADDRESS: '0.0.0.0:9464' });
    expect(config.MANDATE_CODEC_KEYS).toBeUndefined();
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'mysql://db/mandate'],
    ['TEMPORAL_ADDRESS', 'http://temporal:7233'],
    ['TEMPORAL_ADDRESS', 'temporal'],
    ['MANDATE_WORKER_METRICS_ADDRESS', '9464'],
    ['MANDATE_ROLE', 'scheduler'],
    ['LOG_LEVEL', 'verbose'],
  ])('when %s is %j, then a ConfigError names the variable', (name, value) => {
    let error: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(new RegExp(`^\\s+${name}: `, 'm'));
  });

  it('when several values are bad, then each one is named', () => {
    expect(() => loadConfig({ PORT: '-1', DATABASE_URL: 'nope' })).toThrow(/PORT:[\s\S]*DATABASE_URL:|DATABASE_URL:[\s\S]*PORT:/);
  });
});
