'use client';
/**
 * A real <button> that knows whether its request is running: while `busy` it shows a spinner, is
 * disabled, and says so to screen readers (aria-busy). Variants map onto the .btn classes in
 * app/globals.css.
 */
import type { ButtonHTMLAttributes, ReactNode } from 'react';
import { Spinner } from './Spinner';

export type ButtonVariant = 'default' | 'primary' | 'danger' | 'ghost';

export interface ButtonProps extends ButtonHTMLAttributes<HTMLButtonElement> {
  variant?: ButtonVariant;
  size?: 'md' | 'sm' | 'icon';
  busy?: boolean;
  icon?: ReactNode;
}

export function buttonClass(variant: ButtonVariant = 'default', size: 'md' | 'sm' | 'icon' = 'md', extra = ''): string {
  const v = variant === 'primary' ? 'btn-primary' : variant === 'danger' ? 'btn-danger' : variant === 'ghost' ? 'btn-ghost' : '';
  const s = size === 'sm' ? 'btn-sm' : size === 'icon' ? 'btn-icon' : '';
  return ['btn', v, s, extra].filter(Boolean).join(' ');
}

export function Button({ variant = 'default', size = 'md', busy = false, icon, disabled, className = '', children, type = 'button', ...rest }: ButtonProps) {
  return (
    <button type={type} className={buttonClass(variant, size, className)} disabled={disabled || busy} aria-busy={busy || undefined} {...rest}>
      {busy ? <Spinner className={size === 'sm' ? 'h-3.5 w-3.5' : 'h-4 w-4'} /> : icon}
      {children}
    </button>
  );
}
