import type { Stack } from 'aws-cdk-lib';
import { HostedZone, type IHostedZone } from 'aws-cdk-lib/aws-route53';
import type { HostedZoneRef } from './config-checks.ts';
import { zoneConstructId } from './route-id.ts';

/**
 * The hosted zone from its ID and name, imported once per stack. No lookup: synth stays offline
 * and needs no credentials.
 */
export function importHostedZone(stack: Stack, zone: HostedZoneRef): IHostedZone {
  const id = zoneConstructId(zone.id);
  const existing = stack.node.tryFindChild(id);
  if (existing) return existing as IHostedZone;
  return HostedZone.fromHostedZoneAttributes(stack, id, { hostedZoneId: zone.id, zoneName: zone.name });
}
