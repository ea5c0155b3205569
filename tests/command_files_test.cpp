// The rule on a command's outputs (base/command_files.h) and paths inside files
// (base/relative_path.h), on files made here: what is refused, with which words, and that nothing
// is made or changed for a refused output.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "base/atomic_file.h"
#include "base/command_files.h"
#include "base/error.h"
#include "base/file.h"
#include "base/relative_path.h"
#include "tests/temp_directory.h"

namespace i2v {
namespace {

namespace fs = std::filesystem;

class CommandFilesTest : public test::TempDirectoryTest {
 protected:
  void expect_refused(const CommandFiles& files, const std::string& fragment, bool force = false) {
    try {
      files.check(force);
      ADD_FAILURE() << "accepted; expected: " << fragment;
    } catch (const Error& e) {
      EXPECT_NE(e.message().find(fragment), std::string::npos) << e.message();
    }
  }
  bool is_picture(const std::string& name) const { return fs::path(name).extension() == ".png"; }
};

TEST_F(CommandFilesTest, RefusesInputsLinksAndSpecialFiles) {
  fs::create_directories(path("pics/a"));
  write_file_atomically(path("pics/a/1.png"), std::string("picture"));
  write_file_atomically(path("pics/notes.txt"), std::string("notes"));
  write_file_atomically(path("w.bin"), std::string("weights"));
  auto reads_pictures = [this](const std::string& name) { return is_picture(name); };
  auto files = [&](const std::string& output, Existing existing = Existing::replace) {
    CommandFiles f;
    f.input("--weights", path("w.bin")).input("pictures", path("pics"), reads_pictures).output("-o", output, existing);
    return f;
  };
  expect_refused(files(path("w.bin")), "is --weights");
  expect_refused(files(path("pics/../w.bin")), "(the same file)");
  expect_refused(files(path("pics/a/1.png")), "is a file inside pictures");
  files(path("pics/notes.txt")).check();  // not a picture: not read
  files(path("pics/a/2.png")).check();    // new: not read
  // A hard link to a picture, outside the folder.
  ASSERT_EQ(::link(path("pics/a/1.png").c_str(), path("linked.png").c_str()), 0);
  expect_refused(files(path("linked.png")), "(a hard link to it)");
  // Links, FIFOs, folders; --force changes none of it.
  fs::create_symlink(path("w.bin"), path("link.bin"));
  fs::create_symlink(path("nowhere"), path("dangling.bin"));
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0644), 0);
  expect_refused(files(path("link.bin")), "is a symbolic link", true);
  expect_refused(files(path("dangling.bin")), "is a symbolic link", true);
  expect_refused(files(path("fifo")), "is a FIFO", true);
  expect_refused(files(path("pics")), "is a folder", true);
  expect_refused(files("/dev/null"), "is a character device", true);
  // A file i2v reads back needs --force.
  write_file_atomically(path("store"), std::string("store"));
  expect_refused(files(path("store"), Existing::needs_force), "exists: add --force");
  files(path("store"), Existing::needs_force).check(/*force=*/true);
  EXPECT_EQ(read_file(path("w.bin")), "weights");
  // The library refuses too, whatever a command checked.
  EXPECT_THROW(write_file_atomically(path("fifo"), std::string("x")), Error);
  EXPECT_THROW(write_file_atomically(path("link.bin"), std::string("x")), Error);
  EXPECT_TRUE(fs::is_symlink(path("link.bin")));
}

TEST_F(CommandFilesTest, MakesMissingFoldersOnlyOnceEveryOutputPassed) {
  CommandFiles refused;
  refused.input("--in", path("in")).output("--a", path("new/a.json")).output("--b", path("new/../in"));
  write_file_atomically(path("in"), std::string("input"));
  expect_refused(refused, "--b " + path("new/../in") + " is --in");
  EXPECT_FALSE(fs::exists(path("new")));
  CommandFiles fine;
  fine.output("--a", path("new/deeper/a.json")).output_folder("--run", path("runs/x"));
  fine.check();
  EXPECT_TRUE(fs::is_directory(path("new/deeper")));
  EXPECT_TRUE(fs::is_directory(path("runs/x")));
  // A file where a folder should be.
  CommandFiles under_a_file;
  under_a_file.output("-o", path("in/x.json"));
  expect_refused(under_a_file, "is a regular file, not a folder");
  CommandFiles twice;
  twice.output("--csv", path("t.csv")).output("--json", path("./t.csv"));
  expect_refused(twice, "--csv and --json both name");
}

TEST(RelativePath, RelativeToTheHoldersFolderAndBack) {
  const std::string here = fs::current_path().string();
  EXPECT_EQ(path_relative_to("data/a.png", "runs/x"), "../../data/a.png");
  EXPECT_EQ(path_resolved_from("../../data/a.png", "runs/x"), "data/a.png");
  EXPECT_EQ(path_relative_to("/abs/a.png", "runs/x"), "/abs/a.png");
  EXPECT_EQ(path_resolved_from("/abs/a.png", "runs/x"), "/abs/a.png");
  EXPECT_EQ(path_relative_to("", "runs/x"), "");
  EXPECT_EQ(path_relative_to("runs/x", "runs/x"), ".");
  // Relative stays relative, also above the current directory.
  EXPECT_EQ(fs::absolute(path_resolved_from("../b.png", "/x")).lexically_normal(), "/b.png");
  EXPECT_EQ(path_resolved_from("a.png", here + "/sub"), "sub/a.png");
  EXPECT_EQ(path_resolved_from("a.png", fs::path(here).parent_path().string()), "../a.png");
}

}  // namespace
}  // namespace i2v
