import type { ServerChannel } from "ssh2";

/**
 * Writes a command's stdout and stderr to an ssh2 server channel in one ordered queue.
 *
 * ssh2's server, when the client's window reopens, resumes only one of stdout and stderr (stdout first): a
 * stderr chunk that waits for window space beside a stdout chunk is never sent. Sending one chunk at a time
 * avoids that, and `end` sends the exit status only after the last byte of both streams, as sshd does.
 */
export interface ChannelOutput {
    stdout(data: Buffer): void;
    stderr(data: Buffer): void;
    /** Runs `last` (exit status, end) once everything queued before it has been written. */
    end(last: () => void): void;
}

const outputs = new WeakMap<ServerChannel, ChannelOutput>();

/** The channel's one output queue (the same object for every caller that writes to this channel). */
export function channelOutput(channel: ServerChannel): ChannelOutput {
    let output = outputs.get(channel);
    if (!output) {
        output = orderedOutput(channel);
        outputs.set(channel, output);
    }
    return output;
}

function orderedOutput(channel: ServerChannel): ChannelOutput {
    let queue = Promise.resolve();
    const enqueue = (write: (done: () => void) => void) => {
        queue = queue.then(() => new Promise<void>((resolve) => write(resolve)));
    };
    return {
        stdout: (data) => {
            if (data.length > 0) enqueue((done) => (channel.writable ? channel.write(data, done) : done()));
        },
        stderr: (data) => {
            if (data.length > 0)
                enqueue((done) => (channel.stderr.writable ? channel.stderr.write(data, done) : done()));
        },
        end: (last) => {
            void queue.then(() => {
                try {
                    last();
                } catch {
                    // the client went away meanwhile
                }
            });
        },
    };
}
