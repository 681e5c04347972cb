// MSBuild inline task (see WeakGlibcxxNeed.targets): marks one ELF version need as weak, in place,
// when the system's libstdc++ does not define that version.
using System;
using System.IO;
using System.Linq;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class WeakenElfVersionNeed : Task
{
    [Required] public string Library { get; set; } = "";
    [Required] public string VersionName { get; set; } = "";

    const uint ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlgWeak = 0x2;

    static readonly string[] LibStdCxxCandidates =
    {
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib64/libstdc++.so.6", "/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6",
    };

    public override bool Execute()
    {
        string system = LibStdCxxCandidates.FirstOrDefault(File.Exists);
        if (system == null)
        {
            Log.LogMessage(MessageImportance.Low, "No system libstdc++ found; leaving {0} untouched.", Library);
            return true;
        }
        if (Contains(File.ReadAllBytes(system), Encoding.ASCII.GetBytes(VersionName + "\0")))
        {
            Log.LogMessage(MessageImportance.Low, "{0} defines {1}; {2} is used as shipped.", system, VersionName, Library);
            return true;
        }
        byte[] elf = File.ReadAllBytes(Library);
        int changed = Weaken(elf, VersionName);
        if (changed < 0)
        {
            Log.LogWarning("{0}: not a 64-bit little-endian ELF file with a .gnu.version_r section; not patched.", Library);
            return true;
        }
        if (changed > 0)
        {
            File.WriteAllBytes(Library, elf);
            Log.LogMessage(MessageImportance.High,
                "Marked the {0} need of {1} weak: {2} lacks it (Debian 12's libstdc++ stops at GLIBCXX_3.4.30).",
                VersionName, Path.GetFileName(Library), system);
        }
        return true;
    }

    // Compiled against netstandard by the inline task factory: no Span search available.
    static bool Contains(byte[] haystack, byte[] needle)
    {
        for (int i = Array.IndexOf(haystack, needle[0]); i >= 0 && i <= haystack.Length - needle.Length;
             i = Array.IndexOf(haystack, needle[0], i + 1))
        {
            int j = 1;
            while (j < needle.Length && haystack[i + j] == needle[j]) j++;
            if (j == needle.Length) return true;
        }
        return false;
    }

    /// <returns>entries changed (0 if already weak or absent), or -1 if the file is not a usable ELF64 LE.</returns>
    static int Weaken(byte[] elf, string versionName)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F'
            || elf[4] != 2 /* ELFCLASS64 */ || elf[5] != 1 /* little endian */)
            return -1;
        long shoff = BitConverter.ToInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A);
        int shnum = BitConverter.ToUInt16(elf, 0x3C);
        for (int i = 0; i < shnum; i++)
        {
            long sh = shoff + (long)i * shentsize;
            if (BitConverter.ToUInt32(elf, (int)sh + 4) != ShtGnuVerneed) continue;
            long verneedOffset = BitConverter.ToInt64(elf, (int)sh + 0x18);
            int link = (int)BitConverter.ToUInt32(elf, (int)sh + 0x28);
            long strtabOffset = BitConverter.ToInt64(elf, (int)(shoff + (long)link * shentsize) + 0x18);
            int changed = 0;
            long vn = verneedOffset;
            while (true)
            {
                int count = BitConverter.ToUInt16(elf, (int)vn + 2);
                long aux = vn + BitConverter.ToUInt32(elf, (int)vn + 8);
                for (int a = 0; a < count; a++)
                {
                    long nameOffset = strtabOffset + BitConverter.ToUInt32(elf, (int)aux + 8);
                    int end = Array.IndexOf(elf, (byte)0, (int)nameOffset);
                    string name = Encoding.ASCII.GetString(elf, (int)nameOffset, end - (int)nameOffset);
                    ushort flags = BitConverter.ToUInt16(elf, (int)aux + 4);
                    if (name == versionName && (flags & VerFlgWeak) == 0)
                    {
                        BitConverter.GetBytes((ushort)(flags | VerFlgWeak)).CopyTo(elf, (int)aux + 4);
                        changed++;
                    }
                    uint nextAux = BitConverter.ToUInt32(elf, (int)aux + 12);
                    if (nextAux == 0) break;
                    aux += nextAux;
                }
                uint next = BitConverter.ToUInt32(elf, (int)vn + 12);
                if (next == 0) break;
                vn += next;
            }
            return changed;
        }
        return -1;
    }
}
