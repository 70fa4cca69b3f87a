/**
 * `do_kexec.sh` (tools/testing/selftests/liveupdate/do_kexec.sh): load `$KERNEL` with the
 * running command line through kexec_file_load (the loader that carries KHO, and so LUO, state),
 * with `$INITRAMFS` when that file exists, and jump. The kernel's script defaults to
 * /boot/bzImage, where its test VM puts the kernel; this machine installs /boot/vmlinuz, which
 * is used when no /boot/bzImage exists.
 */
export const DO_KEXEC_SH = `#!/bin/sh
# kexec into $KERNEL (default /boot/bzImage, else /boot/vmlinuz) with the running command
# line, keeping the KHO/LUO state: kexec_file_load (-s), then kexec -e.
set -e

if [ -z "$KERNEL" ]; then
    KERNEL=/boot/bzImage
    [ -f "$KERNEL" ] || KERNEL=/boot/vmlinuz
fi
INITRAMFS="\${INITRAMFS:-/boot/initramfs}"

if [ -f "$INITRAMFS" ]; then
    kexec -l -s --reuse-cmdline --initrd="$INITRAMFS" "$KERNEL"
else
    kexec -l -s --reuse-cmdline "$KERNEL"
fi
kexec -e
`;
