import { toIsoTimestamp } from '../transform/transform.ts';
import { gongBody, type GongField } from './gong-fields.ts';
import { isAbsentValue, isLongLike } from './helpers.ts';

/**
 * Tidies what a mapping produced into the form the canonical transform produces, guided by the
 * Gong field tree, before validation:
 * - absent values (undefined, null, blank optional text) and empty lists are dropped, as are
 *   empty optional objects except `person` (an empty person is reported, not hidden: dropping it
 *   would send an unattributable event);
 * - a single value given to a list field becomes a one-item list (JSONata returns a one-item
 *   result as the item itself) and blank items of text lists are dropped;
 * - numbers, bigints, protobufjs Longs and booleans in text fields are written as text (ids are
 *   often numeric), Dates as ISO 8601; bigints and Longs in integer fields become numbers.
 * Everything else is passed through untouched for the validator to name: a wrong type, an
 * unknown key, a missing required field.
 */
export function shapeBody(value: unknown): unknown {
  if (!isRecord(value)) return value;
  return shapeObject(value, gongBody.fields);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function shapeObject(
  value: Record<string, unknown>,
  fields: ReadonlyMap<string, GongField>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const field = fields.get(key);
    const shaped = field === undefined ? value[key] : shapeValue(value[key], field, key);
    if (shaped !== undefined) out[key] = shaped;
  }
  return out;
}

function shapeValue(value: unknown, field: GongField, key: string): unknown {
  if (value === undefined || value === null) return undefined;
  switch (field.kind) {
    case 'text':
      return shapeText(value, field.required);
    case 'integer':
      if (typeof value === 'bigint' || isLongLike(value)) {
        const number = Number(value.toString());
        return Number.isSafeInteger(number) ? number : value;
      }
      return value;
    case 'enum':
      return value;
    case 'list': {
      const items: unknown[] = [];
      for (const item of Array.isArray(value) ? value : [value]) {
        const shaped =
          field.item.kind === 'text' ? shapeText(item, false) : shapeValue(item, field.item, key);
        if (shaped !== undefined) items.push(shaped);
      }
      return items.length === 0 && !field.required ? undefined : items;
    }
    case 'object': {
      if (!isRecord(value)) return value;
      const shaped = shapeObject(value, field.fields);
      return Object.keys(shaped).length === 0 && !field.required && key !== 'person' ? undefined : shaped;
    }
  }
}

function shapeText(value: unknown, required: boolean): unknown {
  if (typeof value === 'string') return !required && isAbsentValue(value) ? undefined : value;
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'bigint' || typeof value === 'boolean' || isLongLike(value)) return value.toString();
  if (value instanceof Date) return toIsoTimestamp(value) ?? value;
  return value;
}
