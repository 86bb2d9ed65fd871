/** 404 for any unknown page. */
import Link from 'next/link';

export default function NotFound() {
  return (
    <main id="content" className="flex min-h-screen items-center justify-center px-4">
      <div className="card max-w-md p-8 text-center">
        <p className="text-lg font-semibold">Page not found</p>
        <p className="muted mt-1 text-sm">There is nothing at this address.</p>
        <Link href="/" className="btn btn-primary mt-4">
          Go to the dashboard
        </Link>
      </div>
    </main>
  );
}
