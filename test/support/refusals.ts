import { expect } from 'vitest';
import { isRefusalCode, REFUSAL_HEADER } from '../../functions/core/refusals.ts';

type HeaderBag = Headers | Record<string, unknown> | { get(name: string): string | null };

/** Anything a test holds an answer in: a fetch `Response`, an HTTPS call's result, an API Gateway result. */
export interface AnyAnswer {
  readonly status?: number;
  readonly statusCode?: number;
  readonly headers?: HeaderBag;
  readonly multiValueHeaders?: Record<string, (string | number | boolean)[]>;
}

/** The refusal code an answer names in its `x-mcp-edge-refusal` header, if any. */
export function refusalOf(answer: AnyAnswer): string | undefined {
  const { headers, multiValueHeaders } = answer;
  const multi = multiValueHeaders?.[REFUSAL_HEADER];
  if (multi?.length) return String(multi[0]);
  if (!headers) return undefined;
  if (typeof (headers as Headers).get === 'function')
    return (headers as Headers).get(REFUSAL_HEADER) ?? undefined;
  const bag = headers as Record<string, unknown>;
  const key = Object.keys(bag).find((k) => k.toLowerCase() === REFUSAL_HEADER);
  const value = key === undefined ? undefined : bag[key];
  return Array.isArray(value) ? String(value[0]) : value === undefined ? undefined : String(value);
}

/**
 * Asserts an answer is the given refusal: its status, and its code in the `x-mcp-edge-refusal`
 * header — a code of the catalogue. Tests assert codes this way, not page text or wording.
 */
export function expectRefusal(answer: AnyAnswer, status: number, code: string): void {
  expect(isRefusalCode(code), `${code} is a code of the refusal catalogue`).toBe(true);
  expect({ status: answer.status ?? answer.statusCode, refusal: refusalOf(answer) }).toEqual({
    status,
    refusal: code,
  });
}
