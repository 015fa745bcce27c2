// Employee onboarding (BPO, service bpo-hr): the client's HR asks for an account, the
// provider creates it, privileged access waits for the client's approval, the client's
// hardware vendor ships the laptop, the provider's service desk confirms.
import { z } from 'zod';
import * as wf from '@temporalio/workflow';
import { PROCESSES, type EmployeeOnboardingInput } from '../domain/catalogue';
import { usernameFor } from '../domain/naming';
import type { ProcessStart } from './definitions';
import { runProcess } from './process';
import { runStep } from './step';

export interface EmployeeOnboardingResult {
  username: string;
  privilegedGroups: { group: string; granted: boolean; reason?: string }[];
  laptop?: { shipped: boolean; trackingNumber?: string };
}

const ShipmentConfirmation = z.strictObject({ trackingNumber: z.string().min(3).max(64) });

export async function employeeOnboarding(start: ProcessStart): Promise<EmployeeOnboardingResult> {
  return runProcess(start, PROCESSES['employee-onboarding'], async (run, input: EmployeeOnboardingInput) => {
    const { employee } = input;
    const username = usernameFor(employee);

    await runStep(run, 'hr.request-account', { title: `Account request for ${username}`, doneByRequester: true });

    const accounts = await runStep(run, 'iam.create-accounts', {
      title: `Create the directory account ${username}`,
      params: { username, displayName: `${employee.firstName} ${employee.lastName}`, department: employee.department, email: employee.email },
    });
    if (accounts.outcome !== 'done') {
      throw wf.ApplicationFailure.nonRetryable(`account creation ${accounts.outcome}: ${accounts.reason ?? ''}`, 'StepFailed');
    }

    // One approval covers all privileged groups requested; a rejection keeps the employee unprivileged.
    const privilegedGroups: EmployeeOnboardingResult['privilegedGroups'] = [];
    if (input.privilegedGroups.length > 0) {
      const grant = await runStep(run, 'iam.grant-privileged', {
        title: `Grant ${username} privileged groups ${input.privilegedGroups.join(', ')}`,
        details: { username, groups: input.privilegedGroups },
        params: { username, groups: input.privilegedGroups },
      });
      for (const group of input.privilegedGroups) {
        privilegedGroups.push({ group, granted: grant.outcome === 'done', reason: grant.outcome === 'done' ? undefined : grant.reason });
      }
    }

    let laptop: EmployeeOnboardingResult['laptop'];
    if (input.laptop) {
      const shipment = await runStep(run, 'equipment.ship-laptop', {
        title: `Ship a ${input.laptop.model} laptop for ${username}`,
        details: { username, model: input.laptop.model, startDate: employee.startDate },
        completion: ShipmentConfirmation,
      });
      const tracking = shipment.outcome === 'done' ? ShipmentConfirmation.safeParse(shipment.output) : undefined;
      laptop = { shipped: shipment.outcome === 'done', trackingNumber: tracking?.success ? tracking.data.trackingNumber : undefined };
    }

    const confirmation = await runStep(run, 'onboarding.confirm', {
      title: `Confirm ${username} is ready for ${employee.startDate}`,
      details: { username, startDate: employee.startDate, laptopShipped: laptop?.shipped ?? null },
    });
    if (confirmation.outcome !== 'done') {
      throw wf.ApplicationFailure.nonRetryable(`confirmation ${confirmation.outcome}: ${confirmation.reason ?? ''}`, 'StepFailed');
    }
    return { username, privilegedGroups, laptop };
  });
}
