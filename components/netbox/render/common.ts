/** The first line of every file we write, so whoever opens it on the box knows where it comes from. */
export function managedBy(stack: string, comment = "#"): string {
    return `${comment} Managed by proxmox-homelab (NetboxStack "${stack}"); local edits are overwritten on the next deploy.`;
}

/** Joins lines with `\n` and ends the text with exactly one newline. */
export function lines(...ls: string[]): string {
    return ls.join("\n") + "\n";
}
