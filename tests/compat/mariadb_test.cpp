// A database server on iostack: MariaDB (InnoDB on io_uring, or on libaio
// where io_uring is refused) started with `iostack exec` under a seccomp
// filter that refuses the kernel's io_uring and AIO. It must start, take
// writes, pass CHECK TABLE, keep the POSIX lock InnoDB holds on ibdata1 (so
// that a second server cannot open the same files) and shut down cleanly.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "run.hpp"

extern char** environ;

namespace {

#if defined(IOSTACK_COMPAT_SECCOMP_EXEC) && defined(IOSTACK_COMPAT_IOSTACK)

bool contains(const std::string& s, const std::string& what) {
  return s.find(what) != std::string::npos;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// What a process other than the server sees of ibdata1's lock.
bool locked_by_another_process(const std::string& file) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(file.c_str(), O_RDWR);
    struct flock l = {};
    l.l_type = F_WRLCK;
    l.l_whence = SEEK_SET;
    if (fd < 0 || fcntl(fd, F_GETLK, &l) != 0) _exit(2);
    _exit(l.l_type == F_UNLCK ? 1 : 0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

class MariaDb : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    SKIP_IF_SANITIZED();
    for (const char* tool : {"mariadbd", "mariadb-install-db", "mariadb", "mariadb-admin"}) {
      std::string path = compat::which(tool);
      if (path.empty()) GTEST_SKIP() << tool << " is not installed (Debian package mariadb-server)";
      tools_.push_back(path);
    }
    dir_ = std::string(IOSTACK_COMPAT_SCRATCH_DIR) + "/mariadb." + std::to_string(getpid());
    ASSERT_EQ(mkdir(dir_.c_str(), 0700), 0);
    const auto r = compat::run({tools_[1], "--no-defaults", "--user=root", "--datadir=" + data(),
                                "--auth-root-authentication-method=normal", "--skip-test-db"});
    ASSERT_EQ(r.status, 0) << r.output;
  }
  void TearDown() override {
    if (server_ > 0) {
      kill(server_, SIGKILL);
      waitpid(server_, nullptr, 0);
    }
    if (!dir_.empty()) compat::run({"rm", "-rf", dir_});
  }

  std::string data() const { return dir_ + "/data"; }
  std::string socket() const { return dir_ + "/sock"; }
  std::string log() const { return dir_ + "/error.log"; }

  // mariadbd on iostack, in the background.
  void start() {
    std::vector<std::string> args = {
        "timeout", "-k", "5", "300", IOSTACK_COMPAT_SECCOMP_EXEC, IOSTACK_COMPAT_IOSTACK, "exec"};
    if (*GetParam()) args.push_back(GetParam());
    const std::vector<std::string> server = {"--",
                                             tools_[0],
                                             "--no-defaults",
                                             "--user=root",
                                             "--datadir=" + data(),
                                             "--socket=" + socket(),
                                             "--skip-networking",
                                             "--log-error=" + log(),
                                             "--pid-file=" + dir_ + "/pid",
                                             "--innodb-buffer-pool-size=32M",
                                             "--innodb-flush-method=O_DIRECT"};
    args.insert(args.end(), server.begin(), server.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ASSERT_EQ(posix_spawnp(&server_, argv[0], nullptr, nullptr, argv.data(), environ), 0);
    // Bounded: the server answers a ping once it is ready.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (admin("ping").status != 0) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << slurp(log());
      ASSERT_NE(waitpid(server_, nullptr, WNOHANG), server_) << slurp(log());
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  compat::RunResult admin(const std::string& what) {
    return compat::run({tools_[3], "--no-defaults", "--socket=" + socket(), "--user=root", what});
  }
  compat::RunResult sql(const std::string& statements) {
    return compat::run({tools_[2], "--no-defaults", "--socket=" + socket(), "--user=root",
                        "--batch", "--skip-column-names", "-e", statements});
  }

  std::vector<std::string> tools_;
  std::string dir_;
  pid_t server_ = -1;
};

TEST_P(MariaDb, RunsWritesChecksAndKeepsItsFileLock) {
  start();
  const auto w =
      sql("create database t; use t; create table t.a (id int primary key, v varchar(200)) "
          "engine=innodb;"
          "insert into t.a select seq, repeat(char(65 + seq % 26), 200) from seq_1_to_20000;"
          "update t.a set v = 'changed' where id % 7 = 0; delete from t.a where id % 11 = 0;"
          "flush tables; select count(*), sum(length(v)) from t.a; check table t.a;");
  EXPECT_EQ(w.status, 0) << w.output;
  // 20000 rows less the 1818 multiples of 11; 2598 changed (multiples of 7, not 77).
  EXPECT_TRUE(contains(w.output, "18182\t3134986\n")) << w.output;
  EXPECT_TRUE(contains(w.output, "t.a\tcheck\tstatus\tOK")) << w.output;
  EXPECT_TRUE(locked_by_another_process(data() + "/ibdata1"))
      << "InnoDB's fcntl lock on ibdata1 was dropped";

  ASSERT_EQ(admin("shutdown").status, 0);
  int status = 0;
  ASSERT_EQ(waitpid(server_, &status, 0), server_);
  server_ = -1;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  const std::string text = slurp(log());
  EXPECT_TRUE(contains(text, *GetParam() ? "Using Linux native AIO" : "Using io_uring")) << text;
  EXPECT_FALSE(contains(text, "[ERROR]")) << text;
  EXPECT_TRUE(contains(text, "Shutdown complete")) << text;
}

// io_uring through `iostack exec`; libaio through `iostack exec --aio`
// (MariaDB falls back to it when io_uring_setup is refused).
INSTANTIATE_TEST_SUITE_P(Engine, MariaDb, ::testing::Values("", "--aio"),
                         [](const auto& info) { return *info.param ? "Libaio" : "IoUring"; });

#endif

}  // namespace
