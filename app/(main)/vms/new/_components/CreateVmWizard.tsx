'use client';
/**
 * The create-VM wizard: five steps (name & install media, CPUs & memory, storage, network, summary)
 * with a step indicator. Each step is checked on Next; Finish checks the whole body against the
 * shared CreateVmSchema, POSTs /api/vms with a progress indicator (a new disk takes a few seconds),
 * and lands on /vm?id=<id>&tab=console when the VM was started, /vm?id=<id> otherwise. A server error
 * (NAME_TAKEN, RESOURCE_LIMIT, VALIDATION_FAILED) is shown next to its field and re-opens the
 * step that holds it; the form keeps everything the user typed.
 *
 * Stable test ids (for e2e):
 *   wizard                      the wizard root
 *   wizard-step-<1..5>          step indicator buttons (aria-current="step" on the open one)
 *   wizard-step-title           the open step's heading
 *   wizard-name                 VM name
 *   wizard-os-<linux|windows|other>   OS preset radios
 *   wizard-machine, wizard-disk-bus, wizard-video   hardware defaults (filled in by the preset)
 *   wizard-media-<iso|import|kernel>  install media radios
 *   wizard-iso, wizard-import-volume, wizard-kernel, wizard-initrd, wizard-cmdline
 *   wizard-vcpus, wizard-max-vcpus, wizard-memory, wizard-max-memory, wizard-host-limits
 *   wizard-disk-new, wizard-disk-none, wizard-disk-size, wizard-disk-unit
 *   wizard-network (checkbox), wizard-nic-model, wizard-mac
 *   wizard-summary, wizard-start (Start after creation)
 *   wizard-back, wizard-next, wizard-finish, wizard-cancel
 *   wizard-progress             shown while the VM is being created
 *   wizard-error                form-level error (no field to attach it to)
 *   wizard-error-<field>        inline error of a field: name, iso, importVolume, kernel, initrd,
 *                               cmdline, vcpus, maxVcpus, memoryMiB, maxMemoryMiB, diskSize,
 *                               nicModel, mac
 */
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useEffect, useMemo, useRef, useState } from 'react';
import type { VmView } from '@/lib/schemas';
import { api, ApiRequestError, errorMessage } from '@/components/api';
import { formatMiB } from '@/components/format';
import { Button, buttonClass } from '@/components/ui/Button';
import { FormError } from '@/components/ui/Field';
import { Spinner } from '@/components/ui/Spinner';
import { useToast } from '@/components/ui/Toast';
import { useHost } from '@/components/vm/useHost';
import { useVmEvents } from '@/components/vm/useVmEvents';
import { useVolumes } from '@/components/vm/useVolumes';
import { StepCpuMemory, StepMedia, StepNetwork, StepStorage, StepSummary } from './WizardSteps';
import { buildBody, clientCheckBody, diskSizeMiB, FIELD_STEP, firstStepWithError, INITIAL, issuesToFields, STEPS, validateStep, type Errors, type WizardForm } from './wizardModel';
import { vmHref } from '@/components/vm/links';

export function CreateVmWizard() {
  const router = useRouter();
  const toast = useToast();
  const host = useHost();
  const { vms, upsert } = useVmEvents();
  const { volumes, loading: volumesLoading } = useVolumes();
  const [form, setForm] = useState<WizardForm>(INITIAL);
  const [step, setStep] = useState(0);
  const [furthest, setFurthest] = useState(0);
  const [errors, setErrors] = useState<Errors>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [elapsed, setElapsed] = useState(0);
  const titleRef = useRef<HTMLHeadingElement>(null);
  const firstRender = useRef(true);
  // Which headroom/disk fields the user set by hand: those stop following the defaults.
  const touched = useRef(new Set<string>());

  const takenNames = useMemo(() => new Set([...vms.values()].map((v) => v.name)), [vms]);

  useEffect(() => {
    // Move focus to the new step's heading, so keyboard and screen reader users land on it.
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    titleRef.current?.focus();
  }, [step]);

  useEffect(() => {
    if (!creating) return;
    const t0 = Date.now();
    const t = setInterval(() => setElapsed(Math.floor((Date.now() - t0) / 1000)), 500);
    return () => clearInterval(t);
  }, [creating]);

  const update = (patch: Partial<WizardForm>, touch?: string) => {
    if (touch) touched.current.add(touch);
    setForm((f) => {
      const n = { ...f, ...patch };
      // Headroom follows the boot values until the user sets it: max(vcpus, 4), max(memory, 2048).
      if (patch.vcpus !== undefined && !touched.current.has('maxVcpus') && /^\d+$/.test(n.vcpus)) n.maxVcpus = String(Math.max(Number(n.vcpus), 4));
      if (patch.memoryMiB !== undefined && !touched.current.has('maxMemoryMiB') && /^\d+$/.test(n.memoryMiB)) n.maxMemoryMiB = String(Math.max(Number(n.memoryMiB), 2048));
      // An imported image or a kernel usually needs no new disk; an install from ISO does.
      if (patch.media !== undefined && !touched.current.has('diskMode')) n.diskMode = n.media === 'iso' ? 'new' : 'none';
      return n;
    });
    // Editing a field clears its error.
    setErrors((e) => {
      const keys = Object.keys(patch).filter((k) => e[k]);
      if (!keys.length) return e;
      const n = { ...e };
      for (const k of keys) delete n[k];
      return n;
    });
  };

  const goTo = (s: number) => {
    setFormError(null);
    setStep(s);
    setFurthest((f) => Math.max(f, s));
  };

  const next = () => {
    const e = validateStep(step, form, { takenNames, host });
    setErrors(e);
    if (Object.keys(e).length) return;
    goTo(step + 1);
  };

  const finish = async () => {
    // Every step again (the user may have jumped around), then the shared schema.
    for (let s = 0; s < STEPS.length - 1; s++) {
      const e = validateStep(s, form, { takenNames, host });
      if (Object.keys(e).length) {
        setErrors(e);
        setStep(s);
        return;
      }
    }
    const bad = clientCheckBody(form);
    if (bad) {
      setErrors(bad.errors);
      setFormError(bad.rest.join('\n') || null);
      const s = firstStepWithError(bad.errors);
      if (s !== null) setStep(s);
      return;
    }
    setErrors({});
    setFormError(null);
    setCreating(true);
    setElapsed(0);
    try {
      const vm = await api<VmView>('POST', '/api/vms', buildBody(form));
      upsert(vm);
      router.push(vmHref(vm.id, form.start ? 'console' : undefined));
    } catch (err) {
      setCreating(false);
      const createdVm = err instanceof ApiRequestError ? (err.detail as { vm?: VmView } | undefined)?.vm : undefined;
      if (createdVm?.id) {
        // Created, but it did not start: the VM exists, so go to it and say why.
        upsert(createdVm);
        toast.error(err instanceof Error ? err.message : String(err), 'The VM did not start');
        router.push(vmHref(createdVm.id));
        return;
      }
      if (err instanceof ApiRequestError && err.issues.length) {
        const { errors: e, rest } = issuesToFields(err.issues, form);
        setErrors(e);
        setFormError(rest.length ? rest.join('\n') : Object.keys(e).length ? null : err.message);
        const s = firstStepWithError(e);
        if (s !== null) setStep(s);
      } else if (err instanceof ApiRequestError && err.code === 'NAME_TAKEN') {
        setErrors({ name: err.message });
        setStep(0);
      } else if (err instanceof ApiRequestError && err.code === 'RESOURCE_LIMIT') {
        setErrors({ memoryMiB: err.message });
        setStep(1);
      } else {
        setFormError(errorMessage(err));
      }
    }
  };

  const last = step === STEPS.length - 1;
  const sizeMiB = diskSizeMiB(form);

  return (
    <div className="mx-auto max-w-3xl space-y-4" data-testid="wizard">
      <div className="flex items-center justify-between gap-2">
        <h1 className="text-xl font-semibold">New virtual machine</h1>
        <Link href="/" className={buttonClass('ghost', 'sm')} data-testid="wizard-cancel">
          Cancel
        </Link>
      </div>

      <nav aria-label="Steps">
        <ol className="flex gap-1 sm:gap-2">
          {STEPS.map((label, i) => {
            const done = i < step;
            const active = i === step;
            const reachable = i <= furthest && !creating;
            const hasError = Object.keys(errors).some((k) => (FIELD_STEP[k] ?? 0) === i);
            return (
              <li key={label} className="flex-1">
                <button
                  type="button"
                  onClick={() => reachable && goTo(i)}
                  disabled={!reachable}
                  aria-current={active ? 'step' : undefined}
                  data-testid={`wizard-step-${i + 1}`}
                  className={`flex w-full flex-col items-start gap-1 border-t-4 pt-2 text-left text-xs font-medium disabled:cursor-default ${
                    active ? 'border-sky-600 text-sky-800 dark:border-sky-400 dark:text-sky-300' : done ? 'border-sky-600/50 text-slate-700 dark:border-sky-500/50 dark:text-slate-300' : 'border-slate-200 text-slate-500 dark:border-slate-700 dark:text-slate-400'
                  }`}
                >
                  <span className="flex items-center gap-1.5 tabular-nums">
                    Step {i + 1}
                    {hasError && (
                      <span className="h-2 w-2 rounded-full bg-red-600" title="This step has an error">
                        <span className="sr-only">(has an error)</span>
                      </span>
                    )}
                  </span>
                  <span className={`hidden sm:block ${active ? '' : 'font-normal'}`}>{label}</span>
                </button>
              </li>
            );
          })}
        </ol>
      </nav>

      <form
        className="card p-4 sm:p-6"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          if (creating) return;
          if (last) void finish();
          else next();
        }}
      >
        <h2 ref={titleRef} tabIndex={-1} className="mb-4 text-base font-semibold outline-none" data-testid="wizard-step-title">
          <span className="sm:hidden">
            Step {step + 1} of {STEPS.length}:{' '}
          </span>
          {STEPS[step]}
        </h2>

        <fieldset disabled={creating} className="min-w-0">
          {step === 0 && <StepMedia form={form} update={update} errors={errors} volumes={volumes} volumesLoading={volumesLoading} />}
          {step === 1 && <StepCpuMemory form={form} update={update} errors={errors} host={host} />}
          {step === 2 && <StepStorage form={form} update={update} errors={errors} host={host} />}
          {step === 3 && <StepNetwork form={form} update={update} errors={errors} />}
          {step === 4 && <StepSummary form={form} update={update} goTo={goTo} />}
        </fieldset>

        {creating && (
          <div className="mt-5 space-y-2" role="status" data-testid="wizard-progress">
            <p className="flex items-center gap-2 text-sm font-medium">
              <Spinner />
              {form.diskMode === 'new' && sizeMiB ? `Creating the VM and its ${formatMiB(sizeMiB)} disk` : 'Creating the VM'}
              {form.start ? ', then starting it' : ''}… <span className="muted tabular-nums">{elapsed} s</span>
            </p>
            <div className="h-1.5 w-full overflow-hidden rounded-full bg-slate-200 dark:bg-slate-700">
              <div className="h-full w-1/3 animate-[wizard-progress_1.4s_ease-in-out_infinite] rounded-full bg-sky-600 dark:bg-sky-500" />
            </div>
          </div>
        )}
        {formError && (
          <div className="mt-5">
            <FormError message={formError} testId="wizard-error" />
          </div>
        )}

        <div className="mt-6 flex items-center gap-2 border-t border-slate-200 pt-4 dark:border-slate-800">
          <Button onClick={() => goTo(step - 1)} disabled={step === 0 || creating} data-testid="wizard-back">
            Back
          </Button>
          <span className="ml-auto" />
          {last ? (
            <Button type="submit" variant="primary" busy={creating} data-testid="wizard-finish">
              {form.start ? 'Create and start' : 'Create'}
            </Button>
          ) : (
            <Button type="submit" variant="primary" data-testid="wizard-next">
              Next
            </Button>
          )}
        </div>
      </form>
    </div>
  );
}
