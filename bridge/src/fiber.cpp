#include "fiber.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <exception>
#include <memory>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/context/fiber.hpp>
#include <boost/context/protected_fixedsize_stack.hpp>

namespace mcp::bridge::fiber {

namespace net = boost::asio;
namespace ctx = boost::context;

namespace {

// Room for the deepest handler (template rendering, JSON documents on the stack) with a wide
// margin; pages are touched only as used. Below it a guard page turns an overflow into a
// crash instead of a silent overwrite.
constexpr std::size_t stack_bytes = 512 * 1024;
// Stacks kept for reuse: a fresh one costs mmap, mprotect and munmap on every request.
constexpr std::size_t kept_stacks = 256;
// A wait without a deadline still gets a timer; a day is "never" for a request.
constexpr auto longest_wait = std::chrono::hours(24);

// Protected stacks, reused. A copyable handle, as Boost.Context's allocators are.
class StackPool {
public:
    ctx::stack_context allocate() {
        {
            std::lock_guard<std::mutex> lock(shared().mutex);
            if (!shared().free.empty()) {
                ctx::stack_context stack = shared().free.back();
                shared().free.pop_back();
                return stack;
            }
        }
        return ctx::protected_fixedsize_stack(stack_bytes).allocate();
    }

    void deallocate(ctx::stack_context& stack) noexcept {
        {
            std::lock_guard<std::mutex> lock(shared().mutex);
            if (shared().free.size() < kept_stacks) {
                shared().free.push_back(stack);
                return;
            }
        }
        ctx::protected_fixedsize_stack(stack_bytes).deallocate(stack);
    }

private:
    struct Shared {
        std::mutex mutex;
        std::vector<ctx::stack_context> free;
    };
    static Shared& shared() {
        static Shared* pool = new Shared;  // never destroyed: fibers may end during exit
        return *pool;
    }
};

}  // namespace

namespace detail {

struct Fiber : std::enable_shared_from_this<Fiber> {
    net::any_io_executor executor;
    std::function<void()> body;
    ctx::fiber context;  // the fiber while it is suspended
    ctx::fiber caller;   // where it goes back to when it suspends

    ~Fiber() {
        if (context) {
            // Still suspended: the event loop was destroyed with its wait pending (a forced
            // stop). Destroying it would unwind its stack through handlers that catch
            // everything; it is left as it is, the process is ending.
            new ctx::fiber(std::move(context));
        }
    }
};

// Not inlined: the compiler may otherwise keep one thread's address of a thread_local
// across a switch after which the fiber runs on another thread.
__attribute__((noinline)) Fiber*& current_slot() {
    static thread_local Fiber* current = nullptr;
    return current;
}

void resume(const std::shared_ptr<Fiber>& fiber) {
    Fiber* outer = current_slot();
    current_slot() = fiber.get();
    fiber->context = std::move(fiber->context).resume();
    current_slot() = outer;
}

// Inside a fiber: back to whoever resumed it, until something resumes it again.
void yield() {
    Fiber* self = current_slot();
    self->caller = std::move(self->caller).resume();
}

// The running fiber, shared: whoever resumed it holds it meanwhile.
std::shared_ptr<Fiber> current_fiber() {
    Fiber* raw = current_slot();
    return raw != nullptr ? raw->weak_from_this().lock() : nullptr;
}

// One suspension of a fiber: woken once, by an event or by its deadline.
class Suspension : public std::enable_shared_from_this<Suspension> {
public:
    explicit Suspension(std::shared_ptr<Fiber> fiber)
        : fiber_(std::move(fiber)), timer_(fiber_->executor) {}

    // From any thread: the fiber resumes on its strand, never inside the caller (who may hold
    // a lock the fiber is about to take). Only the first wake counts.
    void wake() {
        if (claim(false)) {
            net::post(fiber_->executor, [self = shared_from_this()] { self->resume_here(); });
        }
    }

    // From a handler already running on the fiber's strand: resumes it at once.
    void wake_here(bool by_deadline) {
        if (claim(by_deadline)) {
            resume_here();
        }
    }

    // Suspends the fiber; true when woken by an event, false at the deadline.
    bool suspend(Clock::time_point deadline) {
        timer_.expires_at(std::min(deadline, Clock::now() + longest_wait));
        // The timer runs its handler on the fiber's strand, the executor it was made with.
        timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
            if (ec != net::error::operation_aborted) {
                self->wake_here(true);
            }
        });
        yield();
        return !timed_out_;
    }

private:
    bool claim(bool by_deadline) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (woken_) {
            return false;
        }
        woken_ = true;
        timed_out_ = by_deadline;
        return true;
    }

    void resume_here() {
        if (!timed_out_) {
            timer_.cancel();
        }
        resume(fiber_);
    }

    std::shared_ptr<Fiber> fiber_;
    net::steady_timer timer_;
    std::mutex mutex_;
    bool woken_ = false;
    bool timed_out_ = false;
};

}  // namespace detail

using namespace detail;

bool inside() { return current_slot() != nullptr; }

void start(net::any_io_executor executor, std::function<void()> body) {
    auto fiber = std::make_shared<Fiber>();
    fiber->executor = std::move(executor);
    fiber->body = std::move(body);
    Fiber* raw = fiber.get();
    fiber->context = ctx::fiber(std::allocator_arg, StackPool(), [raw](ctx::fiber&& caller) {
        raw->caller = std::move(caller);
        raw->body();
        raw->body = nullptr;  // its captures end here, on the fiber's own stack
        return std::move(raw->caller);
    });
    resume(fiber);
}

// --- descriptors ---------------------------------------------------------------------------

// The descriptor as the event loop watches it: a duplicate, so that the loop's registration
// never outlives the socket it was made for (libpq may close its descriptor on an error, and
// the number may come back as another socket).
struct FdWatch::Registration {
    int fd = -1;  // libpq's number, to notice a new socket
    net::execution_context* loop = nullptr;
    std::shared_ptr<struct LoopWatches> watches;
    std::unique_ptr<net::posix::stream_descriptor> descriptor;  // null once dropped

    void drop() {
        if (descriptor) {
            boost::system::error_code ignored;
            descriptor->close(ignored);
            descriptor.reset();
        }
    }
};

// The registrations of one event loop. A pooled connection may outlive the loop its waits
// ran on (the pool outlives the HTTP server): the loop drops them when it is destroyed, and
// a watch forgotten afterwards finds them already gone.
struct LoopWatches {
    std::mutex mutex;
    bool alive = true;
    std::set<FdWatch::Registration*> registrations;
};

namespace {

class WatchService : public net::execution_context::service {
public:
    static net::execution_context::id id;

    explicit WatchService(net::execution_context& context)
        : service(context), watches(std::make_shared<LoopWatches>()) {}

    // Called while the loop is destroyed, before the services the descriptors use (those
    // were created before this one).
    void shutdown() override {
        std::lock_guard<std::mutex> lock(watches->mutex);
        watches->alive = false;
        for (FdWatch::Registration* registration : watches->registrations) {
            registration->drop();
        }
        watches->registrations.clear();
    }

    const std::shared_ptr<LoopWatches> watches;
};

net::execution_context::id WatchService::id;

// The wait of a thread: poll().
bool poll_wait(int fd, bool for_write, Clock::time_point deadline) {
    pollfd entry{fd, static_cast<short>(for_write ? POLLOUT : POLLIN), 0};
    for (;;) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
        const int ready = ::poll(&entry, 1, left.count() > 0 ? static_cast<int>(left.count()) : 0);
        if (ready > 0) {
            return true;  // errors and hang-ups included: libpq reports them next
        }
        if (ready == 0 || errno != EINTR) {
            return false;
        }
    }
}

}  // namespace

FdWatch::FdWatch() = default;
FdWatch::~FdWatch() { forget(); }

void FdWatch::forget() {
    if (!registration_) {
        return;
    }
    {
        std::lock_guard<std::mutex> lock(registration_->watches->mutex);
        if (registration_->watches->alive) {
            registration_->drop();
            registration_->watches->registrations.erase(registration_.get());
        }
    }
    registration_.reset();
}

bool FdWatch::wait(int fd, bool for_write, Clock::time_point deadline) {
    std::shared_ptr<Fiber> self = current_fiber();
    if (!self) {
        return poll_wait(fd, for_write, deadline);
    }
    net::execution_context& loop = net::query(self->executor, net::execution::context);
    if (registration_ &&
        (registration_->fd != fd || registration_->loop != &loop || !registration_->descriptor)) {
        forget();
    }
    if (!registration_) {
        const int copy = ::dup(fd);
        if (copy < 0) {
            return poll_wait(fd, for_write, deadline);  // out of descriptors: this wait blocks
        }
        auto registration = std::make_unique<Registration>();
        registration->fd = fd;
        registration->loop = &loop;
        try {
            registration->descriptor = std::make_unique<net::posix::stream_descriptor>(self->executor, copy);
        } catch (const std::exception&) {
            // The loop cannot take it (out of memory, epoll's watch limit): this wait blocks.
            ::close(copy);
            return poll_wait(fd, for_write, deadline);
        }
        // After the descriptor: the service must be newer than the ones the descriptor uses.
        registration->watches = net::use_service<WatchService>(loop).watches;
        std::lock_guard<std::mutex> lock(registration->watches->mutex);
        registration->watches->registrations.insert(registration.get());
        registration_ = std::move(registration);
    }
    auto suspension = std::make_shared<Suspension>(self);
    registration_->descriptor->async_wait(
        for_write ? net::posix::descriptor_base::wait_write : net::posix::descriptor_base::wait_read,
        net::bind_executor(self->executor, [suspension](boost::system::error_code) {
            suspension->wake_here(false);  // an error too: libpq reports it on its next call
        }));
    const bool ready = suspension->suspend(deadline);
    if (!ready) {
        boost::system::error_code ignored;
        registration_->descriptor->cancel(ignored);  // its handler finds the fiber awake
    }
    return ready;
}

// --- wake-ups and sleeps -------------------------------------------------------------------

bool Wakeup::wait_until(Clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!notified_) {
        if (std::shared_ptr<Fiber> self = current_fiber()) {
            auto suspension = std::make_shared<Suspension>(self);
            fiber_waiter_ = suspension;
            lock.unlock();  // never held across the suspension
            suspension->suspend(deadline);
            lock.lock();
            fiber_waiter_.reset();
        } else {
            thread_waiter_.wait_until(lock, deadline, [&] { return notified_; });
        }
    }
    const bool notified = notified_;
    notified_ = false;
    return notified;
}

void Wakeup::notify() {
    std::shared_ptr<Suspension> fiber_waiter;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        notified_ = true;
        thread_waiter_.notify_one();
        fiber_waiter = fiber_waiter_;
    }
    if (fiber_waiter) {
        fiber_waiter->wake();
    }
}

void sleep_until(Clock::time_point deadline) {
    std::shared_ptr<Fiber> self = current_fiber();
    if (!self) {
        std::this_thread::sleep_until(deadline);
        return;
    }
    std::make_shared<Suspension>(self)->suspend(deadline);
}

void run_blocking(const std::function<void()>& work) {
    if (!inside()) {
        work();
        return;
    }
    struct Outcome {
        Wakeup done;
        std::exception_ptr error;
    };
    auto outcome = std::make_shared<Outcome>();
    std::thread([&work, outcome] {
        try {
            work();
        } catch (...) {
            outcome->error = std::current_exception();
        }
        outcome->done.notify();  // `work` is not touched after this
    }).detach();
    while (!outcome->done.wait_until(Clock::now() + longest_wait)) {
    }
    if (outcome->error) {
        std::rethrow_exception(outcome->error);
    }
}

}  // namespace mcp::bridge::fiber
