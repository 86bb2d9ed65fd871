/**
 * Root layout: html/body, the theme set before first paint, global CSS and the
 * toast live regions. The signed-in shell (header, live VM events) is in app/(main)/layout.tsx so the
 * login page stays bare.
 */
import type { Metadata, Viewport } from 'next';
import type { ReactNode } from 'react';
import { ToastProvider } from '@/components/ui/Toast';
import './globals.css';

export const metadata: Metadata = {
  title: { default: 'WebVMM', template: '%s · WebVMM' },
  description: 'Manage QEMU virtual machines from the browser',
};

export const viewport: Viewport = {
  width: 'device-width',
  initialScale: 1,
  themeColor: [
    { media: '(prefers-color-scheme: light)', color: '#f8fafc' },
    { media: '(prefers-color-scheme: dark)', color: '#020617' },
  ],
};

/**
 * Runs before first paint so a dark-mode user never sees a white flash. The choice is
 * 'light' | 'dark' | 'system' in localStorage ('vmm-theme'); 'system' follows prefers-color-scheme.
 * Inline rather than a /public file: the server sends signed-out requests for anything but /login
 * and /_next/* to the login page, and this must run there too.
 */
const THEME_INIT = `(function(){try{var c=localStorage.getItem('vmm-theme')||'system';var d=c==='dark'||(c==='system'&&matchMedia('(prefers-color-scheme: dark)').matches);var e=document.documentElement;e.classList.toggle('dark',d);e.style.colorScheme=d?'dark':'light'}catch(_){}})()`;

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en" suppressHydrationWarning>
      <head>
        <script dangerouslySetInnerHTML={{ __html: THEME_INIT }} />
      </head>
      <body className="min-h-screen">
        <ToastProvider>{children}</ToastProvider>
      </body>
    </html>
  );
}
