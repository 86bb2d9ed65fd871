'use client';
/**
 * Toasts for background failures and notices (`notice` events on /ws/events, a lifecycle action that
 * failed). Two live regions always sit in the DOM: a polite one for info and an assertive one for
 * errors, so screen readers announce what is added to them. Errors stay until dismissed, or 12 s;
 * info goes after 5 s.
 */
import { createContext, useCallback, useContext, useMemo, useRef, useState, type ReactNode } from 'react';
import { CloseIcon } from './icons';

export type ToastLevel = 'info' | 'error' | 'success';
export interface Toast {
  id: number;
  level: ToastLevel;
  title?: string;
  message: string;
}

interface ToastApi {
  push: (t: Omit<Toast, 'id'>) => void;
  error: (message: string, title?: string) => void;
  info: (message: string, title?: string) => void;
  success: (message: string, title?: string) => void;
}

const Ctx = createContext<ToastApi | null>(null);

export function useToast(): ToastApi {
  const c = useContext(Ctx);
  if (!c) throw new Error('useToast outside <ToastProvider>');
  return c;
}

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const nextId = useRef(1);

  const dismiss = useCallback((id: number) => setToasts((ts) => ts.filter((t) => t.id !== id)), []);
  const push = useCallback(
    (t: Omit<Toast, 'id'>) => {
      const id = nextId.current++;
      // Keep at most 5 on screen; the oldest goes first.
      setToasts((ts) => [...ts.slice(-4), { ...t, id }]);
      setTimeout(() => dismiss(id), t.level === 'error' ? 12000 : 5000);
    },
    [dismiss],
  );
  const api = useMemo<ToastApi>(
    () => ({
      push,
      error: (message, title) => push({ level: 'error', message, title }),
      info: (message, title) => push({ level: 'info', message, title }),
      success: (message, title) => push({ level: 'success', message, title }),
    }),
    [push],
  );

  const render = (t: Toast) => (
    <div
      key={t.id}
      data-testid={`toast-${t.level}`}
      className={`pointer-events-auto flex w-full items-start gap-2 rounded-md border px-3 py-2 text-sm shadow-lg ${
        t.level === 'error'
          ? 'border-red-300 bg-red-50 text-red-900 dark:border-red-800 dark:bg-red-950 dark:text-red-100'
          : t.level === 'success'
            ? 'border-emerald-300 bg-emerald-50 text-emerald-900 dark:border-emerald-800 dark:bg-emerald-950 dark:text-emerald-100'
            : 'border-slate-300 bg-white text-slate-900 dark:border-slate-700 dark:bg-slate-800 dark:text-slate-100'
      }`}
    >
      <div className="min-w-0 flex-1">
        {t.title && <p className="font-semibold">{t.title}</p>}
        <p className="break-words whitespace-pre-line">{t.message}</p>
      </div>
      <button type="button" className="btn btn-ghost btn-icon -m-1 h-6 w-6 shrink-0" onClick={() => dismiss(t.id)} aria-label="Dismiss notification">
        <CloseIcon width={14} height={14} />
      </button>
    </div>
  );

  return (
    <Ctx.Provider value={api}>
      {children}
      <div className="pointer-events-none fixed right-3 bottom-3 left-3 z-50 flex flex-col items-end gap-2 sm:left-auto sm:w-96">
        <div role="status" aria-live="polite" aria-label="Notifications" className="flex w-full flex-col gap-2">
          {toasts.filter((t) => t.level !== 'error').map(render)}
        </div>
        <div role="alert" aria-live="assertive" aria-label="Errors" className="flex w-full flex-col gap-2">
          {toasts.filter((t) => t.level === 'error').map(render)}
        </div>
      </div>
    </Ctx.Provider>
  );
}
