using System.Diagnostics;
using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.IO;
using NUnit.Framework;

namespace DiffusionKernels.Tests.IO;

public class RegularFileTests
{
    [Test]
    public void AFifoIsRefusedBeforeAnythingBlocksOnIt()
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("FIFOs are made with mkfifo on Linux");
        var dir = Directory.CreateTempSubdirectory("dk-fifo-").FullName;
        try
        {
            var fifo = Path.Combine(dir, "config.json");
            using (var mk = Process.Start("mkfifo", fifo)) mk.WaitForExit();
            Assert.That(File.Exists(fifo), "mkfifo made the pipe");
            // A reader that got past the check would block in open() until a writer appears: this writer turns such a hang
            // into a failed assertion (a wrong exception) after 10 s. Without a blocked reader it waits, harmlessly, in a
            // background thread until the test process ends.
            new Thread(() => { Thread.Sleep(10_000); try { File.OpenWrite(fifo).Dispose(); } catch (IOException) { } }) { IsBackground = true }.Start();
            Assert.That(() => ConfigReader.Load(fifo, "model config"), Throws.InstanceOf<IOException>().With.Message.Contains("not a regular file (a FIFO)"));
            Assert.That(() => Npy.Read(fifo), Throws.InstanceOf<IOException>().With.Message.Contains(fifo));
            Assert.That(() => SafetensorsReader.Open(fifo), Throws.InstanceOf<IOException>().With.Message.Contains(fifo));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void DevicesFoldersAndMissingFilesAreRefused()
    {
        if (OperatingSystem.IsLinux())
            Assert.That(() => RegularFile.Require("/dev/zero", "weights"), Throws.InstanceOf<IOException>().With.Message.Contains("character device"));
        Assert.That(() => RegularFile.Require(Path.GetTempPath(), "weights"), Throws.InstanceOf<IOException>().With.Message.Contains("is a folder"));
        Assert.That(() => RegularFile.Require(Path.Combine(Path.GetTempPath(), "no-such-dk-file"), "weights"), Throws.InstanceOf<FileNotFoundException>());
    }

    [Test]
    public void ASymlinkToARegularFileIsFollowed()
    {
        var dir = Directory.CreateTempSubdirectory("dk-link-").FullName;
        try
        {
            var target = Path.Combine(dir, "a.json");
            File.WriteAllText(target, "{}");
            var link = Path.Combine(dir, "b.json");
            File.CreateSymbolicLink(link, target);
            Assert.That(() => RegularFile.Require(link, "config"), Throws.Nothing);
            Assert.That(RegularFile.ReadAllText(link, "config"), Is.EqualTo("{}"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
