/**
 * Server-side view-only enforcement for VNC: a streaming parser of the client→server half of RFB 3.7/3.8
 * that forwards what a viewer needs (handshake, pixel format, encodings, update requests, fences) and
 * drops everything that would act on the guest (keys, QEMU extended keys, pointer, clipboard, desktop
 * resize, XVP power actions).
 *
 * Why here and not only in noVNC's `viewOnly`: a viewer could open the websocket with any client. The
 * filter fails closed — an unknown message type or security type ends the connection — because a
 * desynchronised parser could otherwise let input through. Editing sessions skip it entirely, so the
 * normal data path stays a plain pipe.
 *
 * References: RFC 6143 §7 (client messages), QEMU ui/vnc.c protocol_client_msg (types 0,2,3,4,5,6,150,
 * 248,250,251,255 and the QEMU submessages), noVNC core/rfb.js.
 */

export class RfbProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RfbProtocolError';
  }
}

type Phase = 'version' | 'security' | 'vncauth' | 'clientinit' | 'messages';

interface Measured {
  total: number;
  forward: boolean;
}

/** Message types a viewer may send, and those it may not. Everything else is refused. */
const SET_PIXEL_FORMAT = 0;
const SET_ENCODINGS = 2;
const FB_UPDATE_REQUEST = 3;
const KEY_EVENT = 4;
const POINTER_EVENT = 5;
const CLIENT_CUT_TEXT = 6;
const ENABLE_CONTINUOUS_UPDATES = 150;
const CLIENT_FENCE = 248;
const XVP = 250;
const SET_DESKTOP_SIZE = 251;
const QEMU_MESSAGE = 255;

export class RfbViewOnlyFilter {
  private phase: Phase = 'version';
  private pending: Buffer | null = null; // an incomplete header, at most a few bytes
  private left = 0; // bytes of the current message still to pass or skip
  private forwarding = false;
  /** Input messages dropped so far (for logs and tests). */
  dropped = 0;

  /** Feed client bytes; returns the slices to forward to the VNC server, in order. Throws RfbProtocolError. */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let data = chunk;
    if (this.pending) {
      data = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    let off = 0;
    while (off < data.length) {
      if (this.left > 0) {
        const take = Math.min(this.left, data.length - off);
        if (this.forwarding) out.push(data.subarray(off, off + take));
        off += take;
        this.left -= take;
        continue;
      }
      const m = this.measure(data, off);
      if (m === null) {
        this.pending = Buffer.from(data.subarray(off)); // copy: the caller may reuse chunk
        break;
      }
      this.left = m.total;
      this.forwarding = m.forward;
      if (!m.forward) this.dropped++;
    }
    return out;
  }

  /** The next unit at data[off]: its full length and whether it passes. null = need more bytes. */
  private measure(data: Buffer, off: number): Measured | null {
    const avail = data.length - off;
    switch (this.phase) {
      case 'version': {
        if (avail < 12) return null;
        const v = data.toString('latin1', off, off + 12);
        const m = /^RFB (\d{3})\.(\d{3})\n$/.exec(v);
        if (!m) throw new RfbProtocolError('bad RFB version string from client');
        const minor = Number(m[2]);
        // 3.3 lets the server pick the security type without telling the client stream; not worth
        // tracking the other direction for, since noVNC and QEMU both speak 3.8.
        if (Number(m[1]) !== 3 || minor < 7) throw new RfbProtocolError(`RFB ${m[1]}.${m[2]} is not supported in view-only mode`);
        this.phase = 'security';
        return { total: 12, forward: true };
      }
      case 'security': {
        const type = data[off];
        if (type === 1) this.phase = 'clientinit';
        else if (type === 2) this.phase = 'vncauth';
        else throw new RfbProtocolError(`security type ${type} is not supported in view-only mode`);
        return { total: 1, forward: true };
      }
      case 'vncauth':
        this.phase = 'clientinit';
        return { total: 16, forward: true };
      case 'clientinit':
        this.phase = 'messages';
        return { total: 1, forward: true };
      case 'messages':
        return measureMessage(data, off, avail);
    }
  }
}

function measureMessage(data: Buffer, off: number, avail: number): Measured | null {
  const type = data[off];
  switch (type) {
    case SET_PIXEL_FORMAT:
      return { total: 20, forward: true };
    case SET_ENCODINGS:
      if (avail < 4) return null;
      return { total: 4 + 4 * data.readUInt16BE(off + 2), forward: true };
    case FB_UPDATE_REQUEST:
      return { total: 10, forward: true };
    case KEY_EVENT:
      return { total: 8, forward: false };
    case POINTER_EVENT:
      return { total: 6, forward: false };
    case CLIENT_CUT_TEXT: {
      if (avail < 8) return null;
      // A negative length is the extended-clipboard form; its payload is |length| bytes.
      const len = Math.abs(data.readInt32BE(off + 4));
      return { total: 8 + len, forward: false };
    }
    case ENABLE_CONTINUOUS_UPDATES:
      return { total: 10, forward: true };
    case CLIENT_FENCE:
      if (avail < 9) return null;
      return { total: 9 + data[off + 8], forward: true };
    case XVP:
      return { total: 4, forward: false };
    case SET_DESKTOP_SIZE:
      if (avail < 7) return null;
      return { total: 8 + 16 * data[off + 6], forward: false };
    case QEMU_MESSAGE: {
      if (avail < 2) return null;
      const sub = data[off + 1];
      if (sub === 0) return { total: 12, forward: false }; // extended key event
      if (sub === 1) {
        // audio: u16 operation; operation 2 (set format) carries 6 more bytes
        if (avail < 4) return null;
        return { total: data.readUInt16BE(off + 2) === 2 ? 10 : 4, forward: false };
      }
      throw new RfbProtocolError(`unknown QEMU client message ${sub}`);
    }
    default:
      throw new RfbProtocolError(`unknown RFB client message type ${type}`);
  }
}
