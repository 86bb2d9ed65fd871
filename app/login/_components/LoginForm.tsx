'use client';
/**
 * The sign-in form. Labelled inputs, submits with Enter (it is a real <form>), shows the server's
 * error inline (BAD_CREDENTIALS, RATE_LIMITED) and then does a full navigation to `next`, so the
 * signed-in shell starts fresh with the new cookie.
 * Test ids: login-username, login-password, login-submit, login-error.
 */
import { useRef, useState } from 'react';
import { api, ApiRequestError, errorMessage } from '@/components/api';
import { Button } from '@/components/ui/Button';
import { ThemeToggle } from '@/components/ui/ThemeToggle';

/** Only same-origin paths: `next=//evil.example` or `next=https://…` would be an open redirect. */
export function safeNext(s: string | null): string {
  if (!s || !s.startsWith('/') || s.startsWith('//') || s.startsWith('/\\') || s.startsWith('/login')) return '/';
  return s;
}

export function LoginForm() {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const pwRef = useRef<HTMLInputElement>(null);

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    if (busy) return;
    if (!username.trim() || !password) {
      setError('Enter your user name and password.');
      return;
    }
    setError(null);
    setBusy(true);
    try {
      await api('POST', '/api/auth/login', { username: username.trim(), password }, { no401Redirect: true });
      // Read here, not while rendering: the page is static, so the form is in its HTML from the start.
      window.location.assign(safeNext(new URLSearchParams(window.location.search).get('next')));
    } catch (err) {
      setBusy(false);
      if (err instanceof ApiRequestError && err.code === 'BAD_CREDENTIALS') {
        setError('Wrong user name or password.');
        setPassword('');
        pwRef.current?.focus();
      } else if (err instanceof ApiRequestError && err.code === 'RATE_LIMITED') {
        setError(`Too many attempts. ${err.message}`);
      } else if (err instanceof ApiRequestError && err.code === 'VALIDATION_FAILED') {
        setError(err.issues[0]?.message ?? err.message);
      } else {
        setError(errorMessage(err));
      }
    }
  };

  return (
    <div className="w-full max-w-sm">
      <div className="mb-6 flex items-center justify-between">
        <div className="flex items-center gap-2">
          <svg width="28" height="28" viewBox="0 0 24 24" aria-hidden className="text-sky-700 dark:text-sky-400">
            <rect x="2" y="3" width="20" height="14" rx="2" fill="none" stroke="currentColor" strokeWidth="2" />
            <path d="M8 21h8M12 17v4" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
            <path d="M7 8h4v5H7zM13 8h4v5h-4z" fill="currentColor" opacity=".6" />
          </svg>
          <span className="text-lg font-semibold tracking-tight">WebVMM</span>
        </div>
        <ThemeToggle />
      </div>
      <form onSubmit={submit} className="card space-y-4 p-6" noValidate>
        <h1 className="text-xl font-semibold">Sign in</h1>
        <div>
          <label htmlFor="login-username" className="label">
            User name
          </label>
          <input
            id="login-username"
            name="username"
            className="input"
            autoComplete="username"
            autoCapitalize="none"
            spellCheck={false}
            autoFocus
            required
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? 'login-error' : undefined}
            data-testid="login-username"
          />
        </div>
        <div>
          <label htmlFor="login-password" className="label">
            Password
          </label>
          <input
            ref={pwRef}
            id="login-password"
            name="password"
            type="password"
            className="input"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? 'login-error' : undefined}
            data-testid="login-password"
          />
        </div>
        {error && (
          <p id="login-error" role="alert" className="text-sm font-medium text-red-700 dark:text-red-400" data-testid="login-error">
            {error}
          </p>
        )}
        <Button type="submit" variant="primary" className="w-full" busy={busy} data-testid="login-submit">
          Sign in
        </Button>
      </form>
    </div>
  );
}
