'use client';
/** A page that threw while rendering: say so, with a way to try again, instead of a blank page. */
import Link from 'next/link';
import { useEffect } from 'react';

export default function MainError({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  useEffect(() => {
    console.error(error);
  }, [error]);
  return (
    <div className="card mx-auto max-w-lg p-6 text-center" role="alert">
      <p className="font-semibold">This page failed to load.</p>
      <p className="muted mt-1 text-sm break-words">{error.message || 'An unexpected error occurred.'}</p>
      <div className="mt-4 flex justify-center gap-2">
        <button type="button" className="btn btn-primary" onClick={reset}>
          Try again
        </button>
        <Link href="/" className="btn">
          Dashboard
        </Link>
      </div>
    </div>
  );
}
